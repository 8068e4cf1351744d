// Trace assembly with real programs: curl → a front service → a downstream service, all on
// this host, through the real collector with the trace_links processor. Each request must come
// out as its own trace with the right parent links, and never linked to another request.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLIENT, PYTHON_PEERS, ROOT, SERVER, freePort, run, startServer, stop, withCollector, type FlatSpan } from './harness';

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const N = 20;

const urlOf = (s: FlatSpan) => String(s.attributes['url.full'] ?? s.attributes['url.path'] ?? '');
/** The request number a span belongs to (/r/ID at the front, /d/ID downstream). */
const idOf = (s: FlatSpan) => /\/[rd]\/(\d+)$/.exec(urlOf(s))?.[1];
/** The trace_links processor's shutdown line, parsed: counter → value. */
function linkStats(stderr: string): Record<string, number> {
  const line = /span\(s\) in, \d+ out; (.*)$/m.exec(stderr)?.[1] ?? '';
  return Object.fromEntries([...line.matchAll(/([\w.]+)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
}

interface Chain {
  curl: FlatSpan;
  frontServer: FlatSpan;
  frontClient: FlatSpan;
  downstream: FlatSpan;
}

/** The four spans of each request, by request number; asserts each is there exactly once. */
function chains(spans: FlatSpan[], frontPort: number, downPort: number): Map<string, Chain> {
  const out = new Map<string, Chain>();
  const port = (s: FlatSpan) => s.attributes['server.port'];
  const one = (what: string, list: FlatSpan[]) => {
    assert.equal(list.length, 1, `${what}: ${list.length} spans`);
    return list[0]!;
  };
  for (let i = 0; i < N; i++) {
    const id = String(i);
    const mine = spans.filter((s) => idOf(s) === id);
    out.set(id, {
      curl: one(
        `curl ${id}`,
        mine.filter((s) => s.kind === CLIENT && port(s) === frontPort),
      ),
      frontServer: one(
        `front server ${id}`,
        mine.filter((s) => s.kind === SERVER && port(s) === frontPort),
      ),
      frontClient: one(
        `front client ${id}`,
        mine.filter((s) => s.kind === CLIENT && port(s) === downPort),
      ),
      downstream: one(
        `downstream ${id}`,
        mine.filter((s) => s.kind === SERVER && port(s) === downPort),
      ),
    });
  }
  return out;
}

/** Every parent link points at a span of the same request (zero links between requests). */
function noCrossLinks(spans: FlatSpan[]) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (const s of spans) {
    if (s.parentSpanId === '') continue;
    const p = byId.get(s.parentSpanId);
    if (p === undefined) continue; // a caller's span (traceparent), not exported by us
    assert.equal(idOf(p), idOf(s), `${urlOf(s)} linked to ${urlOf(p)}`);
    assert.equal(p.traceId, s.traceId);
    assert.ok(p.start <= s.start && s.end <= p.end, `child ${urlOf(s)} outside its parent's interval`);
  }
}

async function chainRun(front: string[], traceparent?: (i: number) => string) {
  const [frontPort, downPort] = [await freePort(), await freePort()];
  let down, fr;
  try {
    down = await startServer('python3', [path.join(FIXTURES, 'chain-downstream.py'), String(downPort)], '127.0.0.1', downPort);
    fr = await startServer(front[0]!, [...front.slice(1), String(frontPort), String(downPort)], '127.0.0.1', frontPort);
    // The debug exporter too: the console shows who is whose parent.
    const r = await withCollector(
      { ports: [frontPort, downPort], processors: [['trace_links', {}]], exporters: { debug: { verbosity: 'normal' } } },
      async () => {
        await Promise.all(
          Array.from({ length: N }, (_, i) =>
            run('curl', [
              '-sS',
              '--fail',
              '-w',
              '%{http_code} %{size_download} %{num_connects}',
              ...(traceparent ? ['-H', `traceparent: ${traceparent(i)}`] : []),
              `http://127.0.0.1:${frontPort}/r/${i}`,
            ]).then((out) => assert.equal(out, `downstream ${i}\n200 ${13 + String(i).length - 1} 1`)),
          ),
        );
        await new Promise((res) => setTimeout(res, 500));
      },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    return { ...r, frontPort, downPort, chains: chains(r.spans, frontPort, downPort), links: linkStats(r.stderr) };
  } finally {
    await stop(fr);
    await stop(down);
  }
}

test('traces: curl → threaded Python front → Python downstream, 20 concurrent requests: 20 traces of 4 spans, right parents, none across requests', async () => {
  const r = await chainRun(['python3', path.join(FIXTURES, 'chain-front.py')]);
  const traces = new Set<string>();
  for (const [id, c] of r.chains) {
    assert.equal(c.curl.parentSpanId, '', `request ${id}: curl's span is the root`);
    assert.equal(c.frontServer.parentSpanId, c.curl.spanId, `request ${id}: front SERVER child of curl CLIENT (rule 1)`);
    assert.equal(c.frontClient.parentSpanId, c.frontServer.spanId, `request ${id}: front CLIENT child of front SERVER (rule 2)`);
    assert.equal(c.downstream.parentSpanId, c.frontClient.spanId, `request ${id}: downstream SERVER child of front CLIENT (rule 1)`);
    for (const s of [c.frontServer, c.frontClient, c.downstream]) assert.equal(s.traceId, c.curl.traceId, `request ${id}: one trace`);
    traces.add(c.curl.traceId);
  }
  assert.equal(traces.size, N, 'one trace per request');
  for (const t of traces) assert.equal(r.spans.filter((s) => s.traceId === t).length, 4);
  noCrossLinks(r.spans);
  assert.equal(r.links['links.connection'], 2 * N, r.stderr);
  assert.equal(r.links['links.thread'], N, r.stderr);
  // Every span found its parent or was a provable root (curl's thread never served): none waited out the window.
  assert.equal(r.links['released.no_parent'] ?? 0, 0, r.stderr);
  // On the console: each child's line names its parent.
  const c0 = r.chains.get('0')!;
  for (const [child, parent] of [
    [c0.frontServer, c0.curl],
    [c0.frontClient, c0.frontServer],
    [c0.downstream, c0.frontClient],
  ] as const) {
    assert.ok(r.stderr.includes(`trace=${child.traceId.slice(0, 8)} span=${child.spanId.slice(0, 8)} parent=${parent.spanId.slice(0, 8)}`), r.stderr);
  }
});

test('traces: the same chain with a Node.js front: connection links on both hops, no in-process link (event loop)', async () => {
  const r = await chainRun([process.execPath, path.join(FIXTURES, 'chain-front.js')]);
  for (const [id, c] of r.chains) {
    assert.equal(c.frontServer.parentSpanId, c.curl.spanId, `request ${id}: front SERVER child of curl CLIENT`);
    assert.equal(c.frontServer.traceId, c.curl.traceId);
    assert.equal(c.frontClient.parentSpanId, '', `request ${id}: no in-process link inside node`);
    assert.equal(c.downstream.parentSpanId, c.frontClient.spanId, `request ${id}: downstream SERVER child of node's CLIENT`);
    assert.equal(c.downstream.traceId, c.frontClient.traceId);
    assert.notEqual(c.frontClient.traceId, c.curl.traceId);
  }
  noCrossLinks(r.spans);
  assert.equal(r.links['links.connection'], 2 * N, r.stderr);
  assert.equal(r.links['links.thread'] ?? 0, 0, r.stderr);
});

test('traces: the same chain with an asyncio Python front (aiohttp): connection links on both hops, no in-process link', async () => {
  const r = await chainRun([PYTHON_PEERS, path.join(FIXTURES, 'chain-front-asyncio.py')]);
  for (const [id, c] of r.chains) {
    assert.equal(c.frontServer.parentSpanId, c.curl.spanId, `request ${id}: front SERVER child of curl CLIENT`);
    assert.equal(c.frontClient.parentSpanId, '', `request ${id}: no in-process link inside the event loop`);
    assert.equal(c.downstream.parentSpanId, c.frontClient.spanId, `request ${id}: downstream SERVER child of the front's CLIENT`);
  }
  noCrossLinks(r.spans);
  assert.equal(r.links['links.connection'], 2 * N, r.stderr);
  assert.equal(r.links['links.thread'] ?? 0, 0, r.stderr);
});

/** The Go front, built from source into .cache/ (null with the reason when Go is missing). */
function goFront(): string | { skip: string } {
  const out = path.join(ROOT, '.cache', 'chain-front-go');
  const src = path.join(FIXTURES, 'chain-front.go');
  if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs) return out;
  const r = spawnSync('go', ['build', '-o', out, src], { encoding: 'utf8' });
  if (r.error) return { skip: `go is not installed: ${r.error.message}` };
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
  return out;
}

test('traces: the same chain with a Go (net/http) front: connection links on both hops, no in-process link', { timeout: 240_000 }, async (t) => {
  const bin = goFront();
  if (typeof bin !== 'string') return t.skip(bin.skip);
  const r = await chainRun([bin]);
  for (const [id, c] of r.chains) {
    assert.equal(c.frontServer.parentSpanId, c.curl.spanId, `request ${id}: front SERVER child of curl CLIENT`);
    assert.equal(c.frontClient.parentSpanId, '', `request ${id}: no in-process link inside Go`);
    assert.equal(c.downstream.parentSpanId, c.frontClient.spanId, `request ${id}: downstream SERVER child of Go's CLIENT`);
  }
  noCrossLinks(r.spans);
  assert.equal(r.links['links.connection'], 2 * N, r.stderr);
  assert.equal(r.links['links.thread'] ?? 0, 0, r.stderr);
});

test("traces: a caller's traceparent keeps its trace id down the chain", async () => {
  const hex = (i: number, n: number) => i.toString(16).padStart(n, '0');
  const tp = (i: number) => `00-${'ab'.repeat(12)}${hex(i, 8)}-${'cd'.repeat(6)}${hex(i, 4)}-01`;
  const r = await chainRun(['python3', path.join(FIXTURES, 'chain-front.py')], tp);
  for (const [id, c] of r.chains) {
    const traceId = tp(Number(id)).slice(3, 35);
    const caller = tp(Number(id)).slice(36, 52);
    for (const s of [c.curl, c.frontServer, c.frontClient, c.downstream])
      assert.equal(s.traceId, traceId, `request ${id}: ${urlOf(s)} keeps the caller's trace`);
    assert.equal(c.curl.parentSpanId, caller);
    assert.equal(c.frontServer.parentSpanId, caller, 'the header parent wins over the connection link');
    assert.equal(c.frontClient.parentSpanId, c.frontServer.spanId);
    assert.equal(c.downstream.parentSpanId, c.frontClient.spanId);
  }
  noCrossLinks(r.spans);
  assert.equal(r.links['links.caller_context'], 2 * N, r.stderr);
});

/** grpc-js client → grpc-js server with `calls` concurrent calls on one connection; checks each SERVER span is the child of its own CLIENT span. */
async function grpcCalls(target: string, collector: Parameters<typeof withCollector>[0], calls: number) {
  const r = await withCollector(collector, async () => {
    const out = JSON.parse(await run(process.execPath, [path.join(FIXTURES, 'grpc-concurrent-client.js'), target, String(calls)]));
    assert.equal(out.length, calls);
    await new Promise((res) => setTimeout(res, 500));
  });
  assert.equal(r.exitCode, 0, r.stderr);
  const clients = r.spans.filter((s) => s.kind === CLIENT && s.name === 'tcpsniff.test.Echo/Unary');
  const servers = r.spans.filter((s) => s.kind === SERVER && s.name === 'tcpsniff.test.Echo/Unary');
  assert.equal(clients.length, calls, JSON.stringify(r.spans.map((s) => s.name)));
  assert.equal(servers.length, calls);
  assert.equal(new Set(clients.map((s) => s.attributes['tcpsniff.h2.stream_id'])).size, calls, 'one stream per call');
  const byId = new Map(clients.map((s) => [s.spanId, s]));
  for (const s of servers) {
    const parent = byId.get(s.parentSpanId);
    assert.ok(parent, `server span of stream ${s.attributes['tcpsniff.h2.stream_id']} has its CLIENT parent: ${/span\(s\) in.*/.exec(r.stderr)?.[0]}`);
    assert.equal(parent.attributes['tcpsniff.h2.stream_id'], s.attributes['tcpsniff.h2.stream_id'], 'its own call');
    assert.equal(parent.traceId, s.traceId);
  }
  assert.equal(linkStats(r.stderr)['links.connection'], calls, r.stderr);
}

test('traces: grpc-js client → grpc-js server, concurrent calls on one connection: each SERVER span is the child of its own CLIENT span', async () => {
  const port = await freePort();
  const server = await startServer(process.execPath, [path.join(FIXTURES, 'grpc-server.js'), String(port)], '127.0.0.1', port);
  try {
    await grpcCalls(String(port), { ports: [port], processors: [['trace_links', {}]] }, 12);
  } finally {
    await stop(server);
  }
});

test("traces: the same over a unix socket (paired by the client end's inode number)", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tl-'));
  const sock = path.join(dir, 'grpc.sock');
  const server = spawn(process.execPath, [path.join(FIXTURES, 'grpc-server.js'), sock], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 200 && !fs.existsSync(sock); i++) await new Promise((res) => setTimeout(res, 50));
    await grpcCalls(sock, { unix: { include: [sock] }, processors: [['trace_links', {}]] }, 12);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
