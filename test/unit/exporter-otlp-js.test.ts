// The otlp_js exporter: the OpenTelemetry JS exporter packages (@opentelemetry/exporter-trace-
// otlp-grpc, and -proto over OTLP/HTTP) fed SpanRecords through the SDK span contract, behind the
// project's queue and retries, against a REAL OpenTelemetry Collector (scripts/build-otelcol.sh):
// what it receives from them is what it receives from our own otlp_grpc exporter. And against a
// plain HTTP server for how HTTP statuses map to retries.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { otlpGrpcExporterFactory } from '../../src/exporters/otlp_grpc';
import { otlpJsExporterFactory } from '../../src/exporters/otlp_js';
import type { ExporterComponent } from '../../src/core/component';
import { SpanKind, StatusCode, type SpanRecord } from '../../src/core/types';
import { RESOURCE_B, makeSpan, memoryLogger } from './helpers/fakes';
import { ensureCollector, freePort, readReceived, startCollector, waitFor, type RunningCollector } from './helpers/otelcol';

const collector = ensureCollector();
const needsCollector = 'skip' in collector ? collector.skip : false;
const bin = () => (collector as { bin: string }).bin;
const running: RunningCollector[] = [];
after(async () => {
  for (const c of running) await c.stop();
});

const FAST_RETRY = { initial_interval: '100ms', max_interval: '300ms', max_elapsed_time: '60s' };

function exporter(type: 'otlp_js' | 'otlp_grpc', settings: Record<string, unknown>) {
  const logger = memoryLogger();
  const factory = type === 'otlp_js' ? otlpJsExporterFactory : otlpGrpcExporterFactory;
  const cfg = factory.parseConfig(settings, `exporters::${type}`);
  return { exp: (factory.create as (c: typeof cfg, ctx: unknown) => ExporterComponent)(cfg, { id: type, logger }), logger };
}

function spans(tag: number): SpanRecord[] {
  return [
    makeSpan({
      spanId: `${tag.toString(16).padStart(2, '0')}ad6b7169203331`,
      parentSpanId: '00f067aa0ba902b7',
      remoteParentSpanId: '00f067aa0ba902b7',
      traceFlags: 0,
      traceState: 'vendor=1,other=x',
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': 'POST', 'http.response.status_code': 503, ratio: 0.25, ok: true, list: ['a', 'b'], big: 2 ** 60, neg: -42 },
      events: [{ name: 'gap', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'tcpsniff.gap.bytes': 1200 } }],
      status: { code: StatusCode.ERROR, message: 'HTTP 503' },
    }),
    makeSpan({ spanId: `${tag.toString(16).padStart(2, '0')}00000000000001`, kind: SpanKind.CLIENT, resource: RESOURCE_B }),
  ];
}

/** What the Collector got for the spans with this tag, minus the tag, with resource and scope. */
function receivedFor(outFile: string, tag: number) {
  const prefix = tag.toString(16).padStart(2, '0');
  return readReceived(outFile)
    .filter((r) => String(r.span['spanId']).startsWith(prefix))
    .map((r) => ({ ...r, span: { ...r.span, spanId: String(r.span['spanId']).slice(2) } as Record<string, unknown> }))
    .sort((a, b) => (String(a.span['spanId']) < String(b.span['spanId']) ? -1 : 1));
}

test(
  'exporter-trace-otlp-grpc and -proto (OTLP/HTTP) deliver to a real Collector exactly what our otlp_grpc exporter delivers',
  { skip: needsCollector, timeout: 90_000 },
  async () => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    const col = await startCollector(bin(), grpcPort, httpPort);
    running.push(col);
    const arms: Array<[number, 'otlp_js' | 'otlp_grpc', Record<string, unknown>]> = [
      [0x10, 'otlp_grpc', { endpoint: `127.0.0.1:${grpcPort}` }],
      [0x20, 'otlp_js', { protocol: 'grpc', endpoint: `127.0.0.1:${grpcPort}` }],
      [0x30, 'otlp_js', { protocol: 'http/protobuf', endpoint: `127.0.0.1:${httpPort}` }],
      [0x40, 'otlp_js', { protocol: 'http/protobuf', endpoint: `http://127.0.0.1:${httpPort}`, compression: 'none' }],
    ];
    for (const [tag, type, settings] of arms) {
      const { exp } = exporter(type, { tls: { insecure: true }, ...settings });
      await exp.start();
      exp.consumeSpans(spans(tag));
      await exp.shutdown();
      assert.equal(exp.stats()['spans.sent'], 2, `${type} ${JSON.stringify(settings)}: ${JSON.stringify(exp.stats())}`);
    }
    await waitFor('8 spans in the Collector output', () => readReceived(col.outFile).length >= 8);
    const ours = receivedFor(col.outFile, 0x10);
    assert.equal(ours.length, 2);
    assert.equal(ours[1]!.span['flags'], 0x300, 'unsampled, remote parent');
    assert.deepEqual((ours[1]!.span['attributes'] as Array<{ key: string; value: unknown }>).find((a) => a.key === 'big')?.value, {
      intValue: String(2n ** 60n),
    });
    for (const tag of [0x20, 0x30, 0x40]) assert.deepEqual(receivedFor(col.outFile, tag), ours, `arm ${tag.toString(16)}`);
  },
);

test(
  'behind the queue: a backend that comes up late gets every span from the gRPC package, after retries',
  { skip: needsCollector, timeout: 60_000 },
  async () => {
    const port = await freePort();
    const { exp, logger } = exporter('otlp_js', { endpoint: `127.0.0.1:${port}`, tls: { insecure: true }, retry_on_failure: FAST_RETRY, timeout: '1s' });
    await exp.start();
    exp.consumeSpans(spans(0x50));
    await waitFor('retries against the dead port', () => exp.stats()['retries']! >= 3);
    assert.equal(exp.stats()['spans.sent'], 0);
    const col = await startCollector(bin(), port);
    running.push(col);
    await waitFor('delivery once the backend is up', () => exp.stats()['spans.sent'] === 2, 30_000);
    await exp.shutdown();
    await waitFor('2 spans in the Collector output', () => receivedFor(col.outFile, 0x50).length === 2);
    assert.equal(exp.stats()['drops.export_failed'], 0);
    assert.ok(
      logger.lines.some((l) => /will retry/.test(l)),
      logger.lines.join('\n'),
    );
  },
);

test(
  'OTLP/HTTP statuses: 503 is retried until it passes (the package retries it itself), 400 is permanent: dropped and counted at once',
  { timeout: 30_000 },
  async () => {
    const answers = [503, 503, 200, 400];
    const seen: Array<{ type?: string; bytes: number }> = [];
    const server = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        seen.push({ type: req.headers['content-type'], bytes: Buffer.concat(parts).length });
        res.writeHead(answers.shift() ?? 500, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const { exp } = exporter('otlp_js', {
        protocol: 'http/protobuf',
        endpoint: `127.0.0.1:${port}`,
        tls: { insecure: true },
        compression: 'none',
        retry_on_failure: FAST_RETRY,
      });
      await exp.start();
      exp.consumeSpans(spans(0x60));
      await waitFor('delivered after the 503s', () => exp.stats()['spans.sent'] === 2, 20_000);
      exp.consumeSpans(spans(0x61));
      await waitFor('the 400 counted', () => exp.stats()['drops.export_failed'] === 2, 20_000);
      await exp.shutdown();
      const s = exp.stats();
      assert.equal(s['spans.received'], 4);
      assert.equal(seen.length, 4, 'two 503s and the 200 for the first batch, one 400 for the second, never repeated');
      assert.equal(s['retries'], 0, JSON.stringify(s));
      assert.ok(
        seen.every((r) => r.type === 'application/x-protobuf' && r.bytes > 0),
        JSON.stringify(seen),
      );
    } finally {
      server.close();
    }
  },
);

test('config: protocol is checked, the HTTP port defaults to 4318, options the gRPC package cannot take are refused', () => {
  assert.throws(
    () => otlpJsExporterFactory.parseConfig({ protocol: 'thrift' }, 'exporters::otlp_js'),
    /exporters::otlp_js::protocol: must be one of grpc, http\/protobuf/,
  );
  assert.throws(
    () => otlpJsExporterFactory.parseConfig({ tls: { server_name_override: 'x' } }, 'exporters::otlp_js'),
    /server_name_override: not supported with protocol grpc/,
  );
  assert.throws(() => otlpJsExporterFactory.parseConfig({ endpoitn: 'x' }, 'exporters::otlp_js'), /endpoitn/);
  const cfg = otlpJsExporterFactory.parseConfig({ protocol: 'http/protobuf', endpoint: 'collector', tls: { insecure: true } }, 'exporters::otlp_js');
  const exp = otlpJsExporterFactory.create(cfg, { id: 'otlp_js', logger: memoryLogger() });
  assert.equal((exp as unknown as { transport: { target: string } }).transport.target, 'http://collector:4318/v1/traces');
});

test('spans whose context is invalid for the API (all-zero or malformed ids) are dropped and counted, not sent', async () => {
  const { exp } = exporter('otlp_js', { endpoint: `127.0.0.1:${await freePort()}`, tls: { insecure: true }, flush_timeout: '100ms' });
  await exp.start();
  exp.consumeSpans([makeSpan({ traceId: '0'.repeat(32) }), makeSpan({ spanId: '0'.repeat(16) }), makeSpan({ parentSpanId: 'not-hex-at-all!!' })]);
  await exp.shutdown();
  const s = exp.stats();
  assert.equal(s['drops.invalid_span'], 3);
  assert.equal(s['spans.sent'], 0);
  assert.equal(s['drops.unsent_at_shutdown'], 0, 'nothing was queued');
});
