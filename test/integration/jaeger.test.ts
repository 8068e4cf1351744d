// End to end with real programs and real backends:
//   real traffic → tcpsniff-collector (otlp exporter) → Jaeger v2, queried over its HTTP API;
//   the same through a real OpenTelemetry Collector in the middle (the sidecar shape);
//   the same with the otlp_js exporter: the OpenTelemetry JS packages
//   @opentelemetry/exporter-trace-otlp-grpc (OTLP/gRPC) and -proto (OTLP/HTTP) as the senders.
// Jaeger and the Collector are built once from the Go module proxy and cached
// (scripts/build-jaeger.sh, scripts/build-otelcol.sh); without Go the tests skip and say why.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, freePort, run, startServer, stop } from './harness';
import {
  ensureJaeger,
  ensureOtelcol,
  jaegerOperations,
  jaegerServices,
  jaegerTrace,
  jaegerTraces,
  startCli,
  startForwardingCollector,
  startJaeger,
  tag,
  waitUntil,
  type Backend,
  type JaegerTrace,
} from './backends';

const jaeger = ensureJaeger();
const otelcol = ensureOtelcol();
const skipJaeger = 'skip' in jaeger ? jaeger.skip : false;
const skipSidecar = skipJaeger || ('skip' in otelcol ? otelcol.skip : false);
const NODE_SERVER = path.join(ROOT, 'test', 'fixtures', 'node-http-server.js');
const NODE_CLIENT = path.join(ROOT, 'test', 'fixtures', 'node-http-client.js');

const backends: Backend[] = [];
after(async () => {
  for (const b of backends.reverse()) await b.stop();
});

const randomHex = (n: number) => [...crypto.getRandomValues(new Uint8Array(n / 2))].map((b) => b.toString(16).padStart(2, '0')).join('');

/**
 * Runs real traffic through tcpsniff-collector exporting with the exporter `id` (its settings
 * as flow YAML), then checks what Jaeger (at `query`) shows: services, operations, attributes,
 * parent links.
 */
async function trafficToJaeger(id: string, settings: string, query: string) {
  const [pyPort, nodePort] = [await freePort(), await freePort()];
  const www = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-www-'));
  fs.writeFileSync(path.join(www, 'hello.txt'), 'hello from the test\n');
  const py = await startServer('python3', ['-m', 'http.server', String(pyPort), '--bind', '127.0.0.1'], '127.0.0.1', pyPort, www);
  const node = await startServer(process.execPath, [NODE_SERVER, String(nodePort)], '127.0.0.1', nodePort);
  const traceId = randomHex(32);
  const parentId = randomHex(16);
  let cli: Awaited<ReturnType<typeof startCli>> | undefined;
  try {
    cli = await startCli(`receivers:
  tcp: { ports: [${pyPort}, ${nodePort}] }
processors:
  http: { command_line: true }
  batch: { timeout: 100ms }
exporters:
  ${id}: ${settings}
service:
  pipelines:
    traces: { receivers: [tcp], processors: [http, batch], exporters: [${id}] }
`);
    // curl → python, carrying a traceparent; a Node client → a Node server (GET and POST).
    assert.equal(
      await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        `traceparent: 00-${traceId}-${parentId}-01`,
        `http://127.0.0.1:${pyPort}/hello.txt?x=1`,
      ]),
      '200',
    );
    const lines = (await run(process.execPath, [NODE_CLIENT, String(nodePort)])).trim().split('\n');
    assert.equal(lines.length, 4);
    assert.equal(await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-d', 'posted-by-curl', `http://127.0.0.1:${nodePort}/echo-size`]), '201');

    // The traceparent trace: curl's CLIENT span and python's SERVER span, both children of the caller's span.
    const trace = await waitUntil(
      'the traceparent trace in Jaeger',
      async () => {
        const t = await jaegerTrace(query, traceId);
        return t && t.spans.length >= 2 && t;
      },
      30_000,
    );
    assert.equal(trace.spans.length, 2, JSON.stringify(trace, null, 1));
    const svc = (t: JaegerTrace, s: { processID: string }) => t.processes[s.processID]!.serviceName;
    const client = trace.spans.find((s) => tag(s, 'span.kind') === 'client')!;
    const server = trace.spans.find((s) => tag(s, 'span.kind') === 'server')!;
    assert.ok(client && server, JSON.stringify(trace.spans.map((s) => s.tags)));
    assert.equal(svc(trace, client), 'curl');
    assert.match(svc(trace, server), /^python3/);
    for (const s of [client, server]) {
      assert.equal(s.operationName, 'GET');
      assert.equal(s.traceID, traceId);
      assert.deepEqual(s.references, [{ refType: 'CHILD_OF', traceID: traceId, spanID: parentId }]);
      assert.equal(tag(s, 'http.request.method'), 'GET');
      assert.equal(tag(s, 'http.response.status_code'), 200);
      assert.equal(tag(s, 'server.port'), pyPort);
    }
    assert.notEqual(client.spanID, server.spanID);
    assert.equal(tag(client, 'url.full'), `http://127.0.0.1:${pyPort}/hello.txt?x=1`);
    assert.equal(tag(server, 'url.path'), '/hello.txt');
    assert.equal(tag(server, 'url.query'), 'x=1');
    assert.equal(tag(server, 'http.response.body.size'), 'hello from the test\n'.length);
    const curlProcess = trace.processes[client.processID]!;
    assert.equal(curlProcess.tags.find((t) => t.key === 'process.executable.name')?.value, 'curl');
    assert.match(String(curlProcess.tags.find((t) => t.key === 'process.command_line')?.value), /^curl -sS -o \/dev\/null/);

    // Services are the processes' executable names; node's operations are GET and POST.
    const services = await waitUntil('services in Jaeger', async () => {
      const s = await jaegerServices(query);
      return s.includes('node') && s.includes('curl') && s;
    });
    assert.ok(
      services.some((s) => /^python3/.test(s)),
      services.join(','),
    );
    const ops = await waitUntil('GET and POST operations of node', async () => {
      const o = await jaegerOperations(query, 'node');
      return o.length >= 4 && o;
    });
    assert.deepEqual([...ops].sort(), ['client GET', 'client POST', 'server GET', 'server POST']);

    // Every Node exchange: a CLIENT span (node client) and a SERVER span (node server) = 8, plus curl's POST.
    const nodeSpans = await waitUntil('9 node spans in Jaeger', async () => {
      const spans = (await jaegerTraces(query, 'node')).flatMap((t) => t.spans.filter((s) => t.processes[s.processID]!.serviceName === 'node'));
      return spans.length >= 9 && spans;
    });
    assert.equal(nodeSpans.length, 9);
    const byKind = (k: string) => nodeSpans.filter((s) => tag(s, 'span.kind') === k);
    assert.equal(byKind('client').length, 4);
    assert.equal(byKind('server').length, 5);
    const post = byKind('server').filter((s) => s.operationName === 'POST');
    assert.equal(post.length, 2);
    assert.deepEqual(
      post.map((s) => tag(s, 'http.response.status_code')),
      [201, 201],
    );
    assert.deepEqual(
      post.map((s) => tag(s, 'url.path')),
      ['/echo-size', '/echo-size'],
    );
    assert.deepEqual(
      byKind('client')
        .map((s) => tag(s, 'url.full'))
        .sort(),
      [
        `http://127.0.0.1:${nodePort}/chunked/3`,
        `http://127.0.0.1:${nodePort}/chunked/5`,
        `http://127.0.0.1:${nodePort}/echo-size`,
        `http://127.0.0.1:${nodePort}/p/1000`,
      ],
    );
    // Without traceparent each exchange starts its own trace: no parent references.
    for (const s of nodeSpans) assert.deepEqual(s.references ?? [], []);
  } finally {
    const code = cli ? await cli.stop() : null;
    await stop(py);
    await stop(node);
    fs.rmSync(www, { recursive: true, force: true });
    if (cli) {
      assert.equal(code, 0, cli.output());
      // 2 (curl → python) + 8 (node client/server) + 2 (curl → node) spans, nothing dropped.
      assert.match(cli.output(), /summary: records=\d+ bytes=\d+ exchanges=12 spans_exported=12 drops_total=0/);
    }
  }
}

test('real traffic → tcpsniff-collector → Jaeger v2: services, operations, attributes, traceparent links', { skip: skipJaeger, timeout: 180_000 }, async () => {
  const j = await startJaeger((jaeger as { bin: string }).bin);
  backends.push(j);
  await trafficToJaeger('otlp', `{ endpoint: '${j.otlp}', tls: { insecure: true } }`, j.query);
});

test(
  'otlp_js with @opentelemetry/exporter-trace-otlp-grpc → Jaeger v2 (OTLP/gRPC): the same spans, links and attributes',
  { skip: skipJaeger, timeout: 180_000 },
  async () => {
    const j = await startJaeger((jaeger as { bin: string }).bin);
    backends.push(j);
    await trafficToJaeger('otlp_js', `{ protocol: grpc, endpoint: '${j.otlp}', tls: { insecure: true } }`, j.query);
  },
);

test(
  'otlp_js with @opentelemetry/exporter-trace-otlp-proto → Jaeger v2 (OTLP/HTTP): the same spans, links and attributes',
  { skip: skipJaeger, timeout: 180_000 },
  async () => {
    const j = await startJaeger((jaeger as { bin: string }).bin);
    backends.push(j);
    await trafficToJaeger('otlp_js', `{ protocol: http/protobuf, endpoint: '${j.otlpHttp}', tls: { insecure: true } }`, j.query);
  },
);

test('the sidecar shape: tcpsniff-collector → a real OpenTelemetry Collector → Jaeger v2', { skip: skipSidecar, timeout: 180_000 }, async () => {
  const j = await startJaeger((jaeger as { bin: string }).bin);
  backends.push(j);
  const col = await startForwardingCollector((otelcol as { bin: string }).bin, j.otlp);
  backends.push(col);
  await trafficToJaeger('otlp', `{ endpoint: '${col.otlp}', tls: { insecure: true } }`, j.query);
});

test(
  'trace assembly through Jaeger v2: curl → threaded Python front → Python downstream is one trace of four spans, right parents and services',
  { skip: skipJaeger, timeout: 180_000 },
  async () => {
    const j = await startJaeger((jaeger as { bin: string }).bin);
    backends.push(j);
    const [frontPort, downPort] = [await freePort(), await freePort()];
    const fixtures = path.join(ROOT, 'test', 'fixtures');
    const down = await startServer('python3', [path.join(fixtures, 'chain-downstream.py'), String(downPort), 'downstream'], '127.0.0.1', downPort);
    const front = await startServer('python3', [path.join(fixtures, 'chain-front.py'), String(frontPort), String(downPort), 'front'], '127.0.0.1', frontPort);
    let cli: Awaited<ReturnType<typeof startCli>> | undefined;
    try {
      cli = await startCli(`receivers:
  tcp: { ports: [${frontPort}, ${downPort}] }
processors:
  http: { service_names: { front: front, downstream: downstream } }
  trace_links: { window: 500ms }
  batch: { timeout: 100ms }
exporters:
  otlp:
    endpoint: ${j.otlp}
    tls: { insecure: true }
service:
  pipelines:
    traces: { receivers: [tcp], processors: [http, trace_links, batch], exporters: [otlp] }
`);
      assert.equal(await run('curl', ['-sS', `http://127.0.0.1:${frontPort}/r/7`]), 'downstream 7\n');
      const trace = await waitUntil(
        'the chain as one trace in Jaeger',
        async () => {
          const t = (await jaegerTraces(j.query, 'downstream'))[0];
          return t && t.spans.length >= 4 && t;
        },
        30_000,
      );
      const svc = (s: { processID: string }) => trace.processes[s.processID]!.serviceName;
      const find = (service: string, kind: string) => {
        const found = trace.spans.filter((s) => svc(s) === service && tag(s, 'span.kind') === kind);
        assert.equal(found.length, 1, `${service} ${kind}: ${JSON.stringify(trace.spans.map((s) => [svc(s), tag(s, 'span.kind')]))}`);
        return found[0]!;
      };
      assert.equal(trace.spans.length, 4);
      const curl = find('curl', 'client');
      const frontServer = find('front', 'server');
      const frontClient = find('front', 'client');
      const downstream = find('downstream', 'server');
      const parentOf = (s: { references?: Array<{ refType: string; spanID: string }> }) => s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID;
      assert.equal(parentOf(curl), undefined);
      assert.equal(parentOf(frontServer), curl.spanID);
      assert.equal(parentOf(frontClient), frontServer.spanID);
      assert.equal(parentOf(downstream), frontClient.spanID);
      for (const s of trace.spans) assert.equal(s.traceID, curl.traceID);
    } finally {
      const code = cli ? await cli.stop() : null;
      await stop(front);
      await stop(down);
      if (cli) assert.equal(code, 0, cli.output());
    }
  },
);
