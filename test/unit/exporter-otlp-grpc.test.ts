// The otlp_grpc exporter against a REAL OpenTelemetry Collector (built by
// scripts/build-otelcol.sh), which decodes our protobuf independently and writes what it got as
// OTLP/JSON; and against a tiny grpc-js server for status-code behaviour (permanent vs
// retryable errors, partial success, headers), where only the gRPC status matters.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { OtlpGrpcExporter, otlpGrpcExporterFactory } from '../../src/exporters/otlp_grpc';
import { EXPORT_METHOD } from '../../src/exporters/otlp_grpc/client';
import { SpanKind, StatusCode, type SpanRecord } from '../../src/core/types';
import { RESOURCE_A, RESOURCE_B, makeSpan, memoryLogger } from './helpers/fakes';
import { ensureCollector, freePort, readReceived, startCollector, waitFor, type RunningCollector } from './helpers/otelcol';

const collector = ensureCollector();
const needsCollector = 'skip' in collector ? collector.skip : false;
const running: RunningCollector[] = [];
after(async () => {
  for (const c of running) await c.stop();
});

function exporter(settings: Record<string, unknown>) {
  const logger = memoryLogger();
  const cfg = otlpGrpcExporterFactory.parseConfig(settings, 'exporters::otlp');
  return { exp: new OtlpGrpcExporter(cfg, { id: 'otlp', logger }), logger };
}

const hexId = (n: number, len: number) => n.toString(16).padStart(len, '0');

function richSpan(): SpanRecord {
  return makeSpan({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    remoteParentSpanId: '00f067aa0ba902b7', // from a traceparent header
    traceFlags: 0, // not sampled upstream
    traceState: 'vendor=1',
    name: 'POST /v1/chat/completions',
    kind: SpanKind.SERVER,
    startTimeUnixNano: 1_700_000_000_000_000_001n,
    endTimeUnixNano: 1_700_000_001_500_000_000n,
    attributes: {
      'http.request.method': 'POST',
      'http.response.status_code': 503,
      'tcpsniff.negative': -42,
      'tcpsniff.zero': 0,
      'tcpsniff.ratio': 0.25,
      'tcpsniff.truncated': true,
      'tcpsniff.false': false,
      'tcpsniff.empty': '',
      'tcpsniff.unicode': 'héllo ✓',
      'tcpsniff.list': ['a', 'b'],
      'tcpsniff.nums': [1, 2.5],
    },
    events: [{ name: 'gap', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'tcpsniff.gap.bytes': 1200 } }],
    status: { code: StatusCode.ERROR, message: 'HTTP 503' },
    resource: RESOURCE_A,
  });
}

const EXPECTED_RICH = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceState: 'vendor=1',
  parentSpanId: '00f067aa0ba902b7',
  flags: 0x300, // trace flags 00, HAS_IS_REMOTE, IS_REMOTE
  name: 'POST /v1/chat/completions',
  kind: 2,
  startTimeUnixNano: '1700000000000000001',
  endTimeUnixNano: '1700000001500000000',
  attributes: [
    { key: 'http.request.method', value: { stringValue: 'POST' } },
    { key: 'http.response.status_code', value: { intValue: '503' } },
    { key: 'tcpsniff.negative', value: { intValue: '-42' } },
    { key: 'tcpsniff.zero', value: { intValue: '0' } },
    { key: 'tcpsniff.ratio', value: { doubleValue: 0.25 } },
    { key: 'tcpsniff.truncated', value: { boolValue: true } },
    { key: 'tcpsniff.false', value: { boolValue: false } },
    { key: 'tcpsniff.empty', value: { stringValue: '' } },
    { key: 'tcpsniff.unicode', value: { stringValue: 'héllo ✓' } },
    { key: 'tcpsniff.list', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
    { key: 'tcpsniff.nums', value: { arrayValue: { values: [{ intValue: '1' }, { doubleValue: 2.5 }] } } },
  ],
  events: [{ timeUnixNano: '1700000000500000000', name: 'gap', attributes: [{ key: 'tcpsniff.gap.bytes', value: { intValue: '1200' } }] }],
  status: { message: 'HTTP 503', code: 2 },
};

/** Drops the keys the Collector adds with zero values, if any, so the comparison is on content. */
function withoutZeroFields(span: Record<string, unknown>) {
  const copy = { ...span };
  for (const k of ['flags', 'droppedAttributesCount', 'droppedEventsCount', 'droppedLinksCount']) if (!copy[k]) delete copy[k];
  return copy;
}

test('delivers spans to a real Collector with exact IDs, attributes, resource and scope', { skip: needsCollector, timeout: 60_000 }, async () => {
  const port = await freePort();
  const col = await startCollector((collector as { bin: string }).bin, port);
  running.push(col);

  for (const compression of ['gzip', 'none']) {
    const { exp } = exporter({ endpoint: `127.0.0.1:${port}`, tls: { insecure: true }, compression });
    await exp.start();
    const spans = [richSpan(), makeSpan({ spanId: hexId(compression === 'gzip' ? 0xa1 : 0xb1, 16), resource: RESOURCE_B })];
    exp.consumeSpans(spans);
    await exp.shutdown();
    assert.equal(exp.stats()['spans.sent'], 2, `${compression}: both spans acknowledged`);
  }

  const received = await waitFor('4 spans in the Collector output', () => {
    const r = readReceived(col.outFile);
    return r.length >= 4 && r;
  });
  assert.equal(received.length, 4);
  const rich = received.filter((r) => r.span['spanId'] === 'b7ad6b7169203331');
  assert.equal(rich.length, 2, 'the rich span arrived once per compression');
  for (const r of rich) {
    assert.deepEqual(withoutZeroFields(r.span), EXPECTED_RICH);
    assert.deepEqual(r.scope, { name: 'tcpsniff-collector', version: '0.1.0' });
    assert.deepEqual(r.resource, {
      attributes: [
        { key: 'service.name', value: { stringValue: 'checkout' } },
        { key: 'process.pid', value: { intValue: '4242' } },
        { key: 'host.name', value: { stringValue: 'node-1' } },
      ],
    });
  }
  const others = received.filter((r) => r.span['spanId'] !== 'b7ad6b7169203331');
  assert.deepEqual(others.map((r) => r.span['spanId']).sort(), ['00000000000000a1', '00000000000000b1']);
  for (const r of others) {
    assert.deepEqual(r.resource, {
      attributes: [
        { key: 'service.name', value: { stringValue: 'curl' } },
        { key: 'process.pid', value: { intValue: '7' } },
      ],
    });
    assert.equal(r.span['kind'], 3);
    assert.equal(r.span['traceId'], '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(r.span['parentSpanId'], '', 'the Collector writes an absent parent as ""');
  }
});

test('a backend started late: batches are retried and delivered', { skip: needsCollector, timeout: 60_000 }, async () => {
  const port = await freePort();
  const { exp, logger } = exporter({
    endpoint: `127.0.0.1:${port}`,
    tls: { insecure: true },
    retry_on_failure: { initial_interval: '100ms', max_interval: '300ms', max_elapsed_time: '60s' },
  });
  await exp.start();
  const ids = [1, 2, 3, 4, 5].map((i) => hexId(0xc00 + i, 16));
  exp.consumeSpans(ids.slice(0, 3).map((spanId) => makeSpan({ spanId })));
  exp.consumeSpans(ids.slice(3).map((spanId) => makeSpan({ spanId })));

  await waitFor('a few retries against the dead port', () => exp.stats()['retries']! >= 4);
  assert.equal(exp.stats()['spans.sent'], 0);

  const col = await startCollector((collector as { bin: string }).bin, port);
  running.push(col);
  await waitFor('delivery after the backend came up', () => exp.stats()['spans.sent'] === 5, 20_000);
  await exp.shutdown();
  const received = await waitFor('5 spans in the Collector output', () => {
    const r = readReceived(col.outFile);
    return r.length >= 5 && r;
  });
  assert.deepEqual(received.map((r) => r.span['spanId']).sort(), ids);
  const s = exp.stats();
  assert.equal(s['drops.export_failed'], 0);
  assert.equal(s['drops.exporter_queue_full'], 0);
  assert.ok(logger.lines.some((l) => /UNAVAILABLE.*will retry/.test(l)));
  assert.ok(logger.lines.some((l) => /succeed again/.test(l)));
});

test('a dead backend never blocks consumeSpans; overflow and give-ups are counted, logs rate-limited', { timeout: 30_000 }, async () => {
  const port = await freePort(); // nothing listens there
  const { exp, logger } = exporter({
    endpoint: `127.0.0.1:${port}`,
    tls: { insecure: true },
    timeout: '1s',
    sending_queue: { queue_size: 3, num_consumers: 1 },
    retry_on_failure: { initial_interval: '20ms', max_interval: '50ms', max_elapsed_time: '300ms' },
  });
  await exp.start();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) exp.consumeSpans([makeSpan(), makeSpan()]);
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.ok(elapsedMs < 200, `50 consumeSpans calls took ${elapsedMs}ms`);
  // One batch went to the sender, three wait in the queue, the other 46 were dropped.
  assert.equal(exp.stats()['drops.exporter_queue_full'], 92);

  await waitFor('the queued batches to be given up', () => exp.stats()['drops.export_failed'] === 8, 15_000);
  await exp.shutdown();
  const s = exp.stats();
  assert.equal(s['spans.sent'], 0);
  assert.ok(s['retries']! >= 4, `retries: ${s['retries']}`);
  assert.equal(s['drops.unsent_at_shutdown'], 0);
  const warnings = logger.lines.filter((l) => / WARN /.test(l));
  assert.ok(warnings.length <= 3, `failures are logged rate-limited, got ${warnings.length} lines:\n${warnings.join('\n')}`);
});

test('shutdown flushes within flush_timeout and reports what it could not send', { timeout: 30_000 }, async () => {
  const port = await freePort();
  const { exp, logger } = exporter({
    endpoint: `127.0.0.1:${port}`,
    tls: { insecure: true },
    sending_queue: { num_consumers: 2 },
    retry_on_failure: { initial_interval: '10s', max_interval: '10s', max_elapsed_time: 0 },
    flush_timeout: '400ms',
  });
  await exp.start();
  for (let i = 0; i < 5; i++) exp.consumeSpans([makeSpan(), makeSpan(), makeSpan()]);
  const t0 = Date.now();
  await exp.shutdown();
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 3000, `shutdown took ${took}ms`);
  const s = exp.stats();
  assert.equal(s['drops.unsent_at_shutdown'], 15);
  assert.equal(s['spans.sent'], 0);
  assert.ok(logger.lines.some((l) => /could not send 15 span\(s\) to 127\.0\.0\.1:\d+ before the flush timeout/.test(l)));
  // After shutdown nothing is accepted, and that is counted too.
  exp.consumeSpans([makeSpan()]);
  assert.equal(exp.stats()['drops.unsent_at_shutdown'], 16);
});

/** A grpc-js server for the Export method that answers with scripted statuses. */
/** google.rpc.Status{code, details: [Any{RetryInfo{retry_delay}}]}, as grpc-status-details-bin. */
function retryInfoDetails(code: number, delayMs: number): Buffer {
  const varint = (n: number) => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return Buffer.from(out);
  };
  const field = (num: number, body: Buffer) => Buffer.concat([varint((num << 3) | 2), varint(body.length), body]);
  const duration = Buffer.concat([varint(1 << 3), varint(Math.floor(delayMs / 1000)), varint(2 << 3), varint((delayMs % 1000) * 1e6)]);
  const retryInfo = field(1, duration);
  const any = Buffer.concat([field(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')), field(2, retryInfo)]);
  return Buffer.concat([varint(1 << 3), varint(code), field(3, any)]);
}

type Answer = grpc.status | 'ok' | 'partial' | 'stall' | { code: grpc.status; retryDelayMs: number };

async function scriptedServer(answers: Answer[]) {
  const calls: Array<{ metadata: grpc.Metadata; bytes: number }> = [];
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: EXPORT_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        calls.push({ metadata: call.metadata, bytes: call.request.length });
        const a = answers[Math.min(calls.length - 1, answers.length - 1)]!;
        if (a === 'ok') return cb(null, Buffer.alloc(0));
        if (a === 'stall') return; // never answers: the client's deadline ends the call
        if (typeof a === 'object') {
          const md = new grpc.Metadata();
          md.set('grpc-status-details-bin', retryInfoDetails(a.code, a.retryDelayMs));
          return cb({ code: a.code, details: 'scripted throttling', metadata: md });
        }
        // ExportTraceServiceResponse{partial_success{rejected_spans=2, error_message="bad"}}
        if (a === 'partial') return cb(null, Buffer.from([0x0a, 0x07, 0x08, 0x02, 0x12, 0x03, 0x62, 0x61, 0x64]));
        cb({ code: a, details: `scripted ${grpc.status[a]}` });
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, calls, stop: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

const fastRetry = { initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: '10s' };

for (const code of [
  grpc.status.INVALID_ARGUMENT,
  grpc.status.UNIMPLEMENTED,
  grpc.status.UNAUTHENTICATED,
  grpc.status.PERMISSION_DENIED,
  grpc.status.RESOURCE_EXHAUSTED,
]) {
  test(`${grpc.status[code]} is permanent: not retried, counted as export_failed`, async () => {
    const srv = await scriptedServer([code]);
    try {
      const { exp, logger } = exporter({ endpoint: `127.0.0.1:${srv.port}`, tls: { insecure: true }, retry_on_failure: fastRetry });
      await exp.start();
      exp.consumeSpans([makeSpan(), makeSpan()]);
      await waitFor('the failure', () => exp.stats()['drops.export_failed'] === 2);
      await exp.shutdown();
      assert.equal(srv.calls.length, 1);
      assert.equal(exp.stats()['retries'], 0);
      assert.ok(logger.lines.some((l) => new RegExp(`${grpc.status[code]}: scripted .*permanent error, not retried`).test(l)));
    } finally {
      await srv.stop();
    }
  });
}

for (const code of [grpc.status.UNAVAILABLE, grpc.status.ABORTED, grpc.status.DEADLINE_EXCEEDED]) {
  test(`${grpc.status[code]} is retryable: retried until it succeeds`, async () => {
    const srv = await scriptedServer([code, code, 'ok']);
    try {
      const { exp } = exporter({ endpoint: `127.0.0.1:${srv.port}`, tls: { insecure: true }, retry_on_failure: fastRetry });
      await exp.start();
      exp.consumeSpans([makeSpan(), makeSpan(), makeSpan()]);
      await waitFor('delivery', () => exp.stats()['spans.sent'] === 3);
      await exp.shutdown();
      assert.equal(srv.calls.length, 3);
      assert.equal(exp.stats()['retries'], 2);
      assert.equal(exp.stats()['drops.export_failed'], 0);
    } finally {
      await srv.stop();
    }
  });
}

test('headers go out as gRPC metadata; partial success counts rejected spans', async () => {
  const srv = await scriptedServer(['partial']);
  try {
    const { exp, logger } = exporter({ endpoint: `http://127.0.0.1:${srv.port}`, headers: { 'x-api-key': 'secret-1', tenant: 'acme' }, compression: 'none' });
    await exp.start();
    exp.consumeSpans([makeSpan(), makeSpan(), makeSpan()]);
    await waitFor('the answer', () => exp.stats()['batches.sent'] === 1);
    await exp.shutdown();
    assert.deepEqual(srv.calls[0]!.metadata.get('x-api-key'), ['secret-1']);
    assert.deepEqual(srv.calls[0]!.metadata.get('tenant'), ['acme']);
    assert.equal(exp.stats()['spans.sent'], 1);
    assert.equal(exp.stats()['drops.rejected_by_backend'], 2);
    assert.ok(logger.lines.some((l) => /rejected 2 of 3 span\(s\): bad/.test(l)));
  } finally {
    await srv.stop();
  }
});

test('with retries disabled, a retryable failure is dropped at once', async () => {
  const srv = await scriptedServer([grpc.status.UNAVAILABLE]);
  try {
    const { exp } = exporter({ endpoint: `127.0.0.1:${srv.port}`, tls: { insecure: true }, retry_on_failure: { enabled: false } });
    await exp.start();
    exp.consumeSpans([makeSpan()]);
    await waitFor('the failure', () => exp.stats()['drops.export_failed'] === 1);
    await exp.shutdown();
    assert.equal(srv.calls.length, 1);
  } finally {
    await srv.stop();
  }
});

before(() => {
  if (needsCollector) console.log(`# ${needsCollector}`);
});

// --- Resilience: every span handed over is either delivered or counted as dropped ---

/** received = delivered + every counted drop + what is still queued or in flight. */
function assertAccounted(exp: OtlpGrpcExporter) {
  const s = exp.stats();
  const drops = Object.entries(s)
    .filter(([k]) => k.startsWith('drops.'))
    .reduce((a, [, n]) => a + n, 0);
  assert.equal(s['spans.received'], s['spans.sent']! + drops + s['queue.spans']! + s['inflight.spans']!, JSON.stringify(s));
}

test('RESOURCE_EXHAUSTED with RetryInfo is throttling: retried after the delay the server asked for', async () => {
  const srv = await scriptedServer([{ code: grpc.status.RESOURCE_EXHAUSTED, retryDelayMs: 400 }, 'ok']);
  try {
    const { exp } = exporter({ endpoint: `127.0.0.1:${srv.port}`, tls: { insecure: true }, retry_on_failure: fastRetry });
    await exp.start();
    const t0 = Date.now();
    exp.consumeSpans([makeSpan(), makeSpan()]);
    await waitFor('delivery', () => exp.stats()['spans.sent'] === 2);
    const took = Date.now() - t0;
    await exp.shutdown();
    assert.equal(srv.calls.length, 2);
    assert.ok(took >= 390, `the retry waited ${took}ms (the server asked for 400ms; our back-off alone is 10ms)`);
    assertAccounted(exp);
  } finally {
    await srv.stop();
  }
});

/** An Export server whose behaviour the test switches: answer, or hold every call (a stalled backend). */
async function switchableServer() {
  let stalled = false;
  let received = 0;
  const held: Array<() => void> = [];
  const server = new grpc.Server();
  const raw = (b: Buffer) => b;
  server.addService(
    {
      Export: {
        path: EXPORT_METHOD,
        requestStream: false,
        responseStream: false,
        requestSerialize: raw,
        requestDeserialize: raw,
        responseSerialize: raw,
        responseDeserialize: raw,
      },
    },
    {
      Export: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        if (stalled) return void held.push(() => cb(null, Buffer.alloc(0)));
        received++;
        cb(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    received: () => received,
    stall: (on: boolean) => (stalled = on),
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
    forceStop: () => server.forceShutdown(),
    held,
  };
}

test(
  'a stalled backend: calls time out and are retried, the queue holds up to its bound, the rest is counted, all queued is delivered after recovery',
  { timeout: 30_000 },
  async () => {
    const srv = await switchableServer();
    srv.stall(true);
    try {
      const { exp } = exporter({
        endpoint: `127.0.0.1:${srv.port}`,
        tls: { insecure: true },
        compression: 'none',
        timeout: '300ms',
        sending_queue: { queue_size: 5, num_consumers: 2 },
        retry_on_failure: { initial_interval: '50ms', max_interval: '100ms', max_elapsed_time: '30s' },
      });
      await exp.start();
      // Let the channel connect, so the two first batches are in flight against the stalled server.
      exp.consumeSpans([makeSpan(), makeSpan()]);
      exp.consumeSpans([makeSpan(), makeSpan()]);
      await waitFor('two exports held by the server', () => srv.held.length >= 2);
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 30; i++) exp.consumeSpans([makeSpan(), makeSpan()]);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      assert.ok(ms < 100, `consumeSpans never waits for the backend: 30 calls took ${ms}ms`);
      let s = exp.stats();
      assert.equal(s['inflight.spans'], 4);
      assert.equal(s['queue.batches'], 5);
      assert.equal(s['queue.spans'], 10);
      assert.equal(s['drops.exporter_queue_full'], 50, '25 batches beyond the bound of 5');
      assertAccounted(exp);

      await waitFor('deadline-exceeded retries', () => exp.stats()['retries']! >= 4, 10_000);
      srv.stall(false);
      await waitFor('everything queued delivered', () => exp.stats()['spans.sent'] === 14, 15_000);
      await exp.shutdown();
      s = exp.stats();
      assert.equal(s['drops.export_failed'], 0);
      assert.equal(s['drops.unsent_at_shutdown'], 0);
      assert.equal(s['spans.received'], 64);
      assertAccounted(exp);
    } finally {
      srv.forceStop();
    }
  },
);

test('memory stays within the queue bound while the backend is down (sizer: items)', { timeout: 30_000 }, async () => {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const port = await freePort(); // nobody listens
  const { exp } = exporter({
    endpoint: `127.0.0.1:${port}`,
    tls: { insecure: true },
    sending_queue: { queue_size: 1000, sizer: 'items', num_consumers: 1 },
    retry_on_failure: { initial_interval: '1s', max_interval: '1s', max_elapsed_time: 0 },
    flush_timeout: '100ms',
  });
  await exp.start();
  const payload = 'p'.repeat(4096);
  gc();
  const before = process.memoryUsage().heapUsed;
  // 20 000 spans of ~4 KiB: ~80 MiB if nothing bounded them.
  for (let i = 0; i < 200; i++) exp.consumeSpans(Array.from({ length: 100 }, () => makeSpan({ attributes: { 'tcpsniff.body': payload + i } })));
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  const s = exp.stats();
  assert.ok(s['queue.spans']! <= 1000, `queue.spans ${s['queue.spans']}`);
  assert.ok(s['inflight.spans']! <= 100);
  assert.equal(s['queue.spans']! + s['inflight.spans']! + s['drops.exporter_queue_full']!, 20_000);
  assert.ok(grown < 16 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB for at most 1100 held spans`);
  await exp.shutdown();
  assertAccounted(exp);
  assert.equal(exp.stats()['drops.unsent_at_shutdown'], 1100);
});

test('a batch larger than a gRPC message may be is split until each request fits', { timeout: 30_000 }, async () => {
  const srv = await scriptedServer(['ok']);
  try {
    const { exp } = exporter({ endpoint: `127.0.0.1:${srv.port}`, tls: { insecure: true }, compression: 'none' });
    await exp.start();
    const payload = 'q'.repeat(3000);
    exp.consumeSpans(Array.from({ length: 3000 }, (_, i) => makeSpan({ attributes: { 'tcpsniff.body': payload + i } })));
    await waitFor('delivery', () => exp.stats()['spans.sent'] === 3000, 20_000);
    await exp.shutdown();
    assert.ok(srv.calls.length >= 3, `${srv.calls.length} requests`);
    for (const c of srv.calls) assert.ok(c.bytes <= 4 * 1024 * 1024, `request of ${c.bytes} bytes`);
    assert.ok(exp.stats()['batches.split']! >= 1);
    assert.equal(exp.stats()['drops.export_failed'], 0);
    assertAccounted(exp);
  } finally {
    await srv.stop();
  }
});

test('shutdown with a healthy backend delivers everything queued', async () => {
  const srv = await scriptedServer(['ok']);
  try {
    const { exp } = exporter({ endpoint: `127.0.0.1:${srv.port}`, tls: { insecure: true }, sending_queue: { num_consumers: 1 } });
    await exp.start();
    for (let i = 0; i < 20; i++) exp.consumeSpans([makeSpan(), makeSpan(), makeSpan()]);
    assert.ok(exp.stats()['queue.batches']! >= 18);
    await exp.shutdown();
    const s = exp.stats();
    assert.equal(s['spans.sent'], 60);
    assert.equal(s['drops.unsent_at_shutdown'], 0);
    assert.equal(srv.calls.length, 20);
    assertAccounted(exp);
  } finally {
    await srv.stop();
  }
});

test('a real Collector killed (SIGKILL) and restarted mid-run: nothing is lost, nothing duplicated', { skip: needsCollector, timeout: 90_000 }, async () => {
  const port = await freePort();
  const bin = (collector as { bin: string }).bin;
  let col = await startCollector(bin, port);
  running.push(col);
  const first = col;
  const { exp, logger } = exporter({
    endpoint: `127.0.0.1:${port}`,
    tls: { insecure: true },
    retry_on_failure: { initial_interval: '100ms', max_interval: '500ms', max_elapsed_time: '60s' },
  });
  await exp.start();
  const ids: string[] = [];
  const sendBatch = () => {
    const batch = Array.from({ length: 5 }, () => makeSpan({ spanId: hexId(0xd0000 + ids.length, 16) }));
    for (const s of batch) ids.push(s.spanId);
    exp.consumeSpans(batch);
  };
  for (let i = 0; i < 6; i++) {
    sendBatch();
    await new Promise((r) => setTimeout(r, 20));
  }
  // Everything so far is on disk: then the Collector dies without any chance to finish.
  await waitFor('30 spans written by the first Collector', () => readReceived(first.outFile).length === 30);
  first.proc.kill('SIGKILL');
  await first.stop();
  for (let i = 0; i < 8; i++) {
    sendBatch();
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitFor('retries against the dead backend', () => exp.stats()['retries']! >= 3, 10_000);
  assert.ok(exp.stats()['spans.sent']! <= 30);
  col = await startCollector(bin, port);
  running.push(col);
  for (let i = 0; i < 6; i++) sendBatch();
  await waitFor('all 100 spans acknowledged', () => exp.stats()['spans.sent'] === 100, 30_000);
  await exp.shutdown();
  const got = await waitFor('70 spans written by the second Collector', () => {
    const r = readReceived(col.outFile);
    return r.length >= 70 && r;
  });
  const all = [...readReceived(first.outFile), ...got].map((r) => r.span['spanId'] as string);
  assert.equal(all.length, 100, 'no span twice');
  assert.deepEqual(all.sort(), [...ids].sort());
  assertAccounted(exp);
  const s = exp.stats();
  for (const [k, n] of Object.entries(s)) if (k.startsWith('drops.')) assert.equal(n, 0, k);
  assert.ok(logger.lines.some((l) => /UNAVAILABLE.*will retry/.test(l)));
  assert.ok(logger.lines.some((l) => /succeed again/.test(l)));
});
