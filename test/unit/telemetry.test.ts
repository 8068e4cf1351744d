// Self-telemetry: the Prometheus text built from components' stats() (names, types, labels,
// units), the endpoint served over real HTTP, the periodic summary line, and the config keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { isGauge, metricStem, renderMetrics } from '../../src/telemetry/prometheus';
import { SelfTelemetry } from '../../src/telemetry';
import type { ComponentStats } from '../../src/summary';
import { memoryLogger } from './helpers/fakes';
import { loadConfigText } from '../../src/config/loader';
import { builtinRegistry } from '../../src/components';
import { UserError } from '../../src/core/component';

const STATS: ComponentStats[] = [
  {
    label: 'receiver/tcp',
    kind: 'receiver',
    id: 'tcp',
    backend: 'syscalls',
    stats: { records: 120, bytes: 4096, 'connections.open': 3, 'drops.kernel_ringbuf_full': 2, 'drops.truncated_bytes': 700, 'addon.waits_for_consumer': 1 },
  },
  {
    label: 'processor/http@traces',
    kind: 'processor',
    stage: 'chunks',
    id: 'http',
    pipeline: 'traces',
    stats: { chunks: 100, exchanges: 7, 'connections.active': 2, 'drops.gap': 1 },
  },
  {
    label: 'exporter/otlp/jaeger',
    kind: 'exporter',
    id: 'otlp/jaeger',
    stats: { 'spans.sent': 12, 'queue.spans': 4, 'queue.batches': 1, 'bytes.written': 10, 'drops.exporter_queue_full': 5 },
  },
];

/** Parses Prometheus text into name{labels} → value and name → type, checking the syntax. */
function parseProm(text: string) {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (t) {
      assert.ok(!types.has(t[1]!), `one TYPE line per family: ${t[1]}`);
      types.set(t[1]!, t[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|NaN|[+-]Inf)$/.exec(line);
    assert.ok(m, `valid sample line: ${line}`);
    samples.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return { samples, types };
}

test('metric names follow Prometheus conventions; every stats key becomes a sample', () => {
  const { samples, types } = parseProm(renderMetrics(STATS, { version: '0.1.0', startTimeSeconds: 1_700_000_000 }));
  const expected: Array<[string, number, string]> = [
    ['tcpsniff_receiver_records_total{receiver="tcp",backend="syscalls"}', 120, 'counter'],
    ['tcpsniff_receiver_bytes_total{receiver="tcp",backend="syscalls"}', 4096, 'counter'],
    ['tcpsniff_receiver_connections_open{receiver="tcp",backend="syscalls"}', 3, 'gauge'],
    ['tcpsniff_receiver_addon_waits_for_consumer_total{receiver="tcp",backend="syscalls"}', 1, 'counter'],
    ['tcpsniff_dropped_total{receiver="tcp",backend="syscalls",reason="kernel_ringbuf_full"}', 2, 'counter'],
    ['tcpsniff_dropped_bytes_total{receiver="tcp",backend="syscalls",reason="truncated"}', 700, 'counter'],
    ['tcpsniff_processor_chunks_total{processor="http",pipeline="traces"}', 100, 'counter'],
    ['tcpsniff_processor_exchanges_total{processor="http",pipeline="traces"}', 7, 'counter'],
    ['tcpsniff_processor_connections_active{processor="http",pipeline="traces"}', 2, 'gauge'],
    ['tcpsniff_dropped_total{processor="http",pipeline="traces",reason="gap"}', 1, 'counter'],
    ['tcpsniff_exporter_spans_sent_total{exporter="otlp/jaeger"}', 12, 'counter'],
    ['tcpsniff_exporter_queue_spans{exporter="otlp/jaeger"}', 4, 'gauge'],
    ['tcpsniff_exporter_queue_batches{exporter="otlp/jaeger"}', 1, 'gauge'],
    ['tcpsniff_exporter_written_bytes_total{exporter="otlp/jaeger"}', 10, 'counter'],
    ['tcpsniff_dropped_total{exporter="otlp/jaeger",reason="exporter_queue_full"}', 5, 'counter'],
    ['tcpsniff_build_info{version="0.1.0",node_version="' + process.version + '"}', 1, 'gauge'],
    ['process_start_time_seconds', 1_700_000_000, 'gauge'],
  ];
  for (const [key, value, type] of expected) {
    assert.equal(samples.get(key), value, key);
    assert.equal(types.get(key.replace(/\{.*/, '')), type, `${key} is a ${type}`);
  }
  // 6 + 4 + 5 component samples, build info, 6 process samples
  assert.equal(samples.size, 15 + 1 + 6);
  assert.ok(samples.get('process_resident_memory_bytes')! > 1e6);
  assert.ok(samples.get('nodejs_heap_size_used_bytes')! > 1e5);
  for (const [name, type] of types) {
    if (type === 'counter') assert.match(name, /_total$/, `counter ${name} ends in _total`);
    else assert.doesNotMatch(name, /_total$/, `gauge ${name} does not end in _total`);
  }
});

test('gauge and name rules', () => {
  for (const k of ['connections.open', 'connections.active', 'queue.batches', 'buffer.spans', 'inflight.spans', 'streams.active']) assert.ok(isGauge(k), k);
  for (const k of ['records', 'bytes', 'spans.sent', 'retries', 'batches.by_size', 'exchanges']) assert.ok(!isGauge(k), k);
  assert.equal(metricStem('bytes.written'), 'written_bytes');
  assert.equal(metricStem('spans.sent'), 'spans_sent');
  assert.equal(metricStem('weird-key/x'), 'weird_key_x');
});

test('label values are escaped', () => {
  const text = renderMetrics([{ label: 'exporter/file/a"b', kind: 'exporter', id: 'file/a"b\\c', stats: { 'spans.sent': 1 } }], {
    version: 'x',
    startTimeSeconds: 0,
  });
  assert.match(text, /^tcpsniff_exporter_spans_sent_total\{exporter="file\/a\\"b\\\\c"\} 1$/m);
});

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

test('the endpoint serves /metrics and /healthz (503 until ready) over HTTP; a busy port is a clear error', async () => {
  let records = 5;
  const source = { componentStats: (): ComponentStats[] => [{ label: 'receiver/tcp', kind: 'receiver', id: 'tcp', stats: { records } }] };
  const logger = memoryLogger();
  const tel = new SelfTelemetry({ metricsAddress: '127.0.0.1:0', summaryIntervalMs: 0 }, source, logger, '0.1.0');
  await tel.start();
  try {
    const port = tel.address!.port;
    assert.ok(logger.lines.some((l) => l.includes(`self-metrics on http://127.0.0.1:${port}/metrics`)));
    assert.equal((await get(port, '/healthz')).status, 503);
    tel.markReady();
    assert.equal((await get(port, '/healthz')).status, 200);
    let r = await get(port, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(r.body, /^tcpsniff_receiver_records_total\{receiver="tcp"\} 5$/m);
    records = 9;
    r = await get(port, '/metrics');
    assert.match(r.body, /^tcpsniff_receiver_records_total\{receiver="tcp"\} 9$/m, 'each scrape reads the stats anew');
    assert.equal((await get(port, '/nope')).status, 404);

    const busy = new SelfTelemetry({ metricsAddress: `127.0.0.1:${port}`, summaryIntervalMs: 0 }, source, logger, '0.1.0');
    await assert.rejects(
      busy.start(),
      (e: Error) => e instanceof UserError && /service::telemetry::metrics::address: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/.test(e.message),
    );
  } finally {
    await tel.stop();
  }
});

test('the periodic summary logs deltas, new drops by reason, open connections, exporter queues and memory', async () => {
  const stats: ComponentStats[] = structuredClone(STATS);
  const logger = memoryLogger();
  const tel = new SelfTelemetry({ metricsAddress: '', summaryIntervalMs: 40 }, { componentStats: () => stats }, logger, '0.1.0');
  await tel.start();
  tel.markReady();
  stats[0]!.stats['records'] = 150;
  stats[0]!.stats['drops.kernel_ringbuf_full'] = 5;
  await new Promise((r) => setTimeout(r, 130));
  await tel.stop();
  const lines = logger.lines.filter((l) => l.includes('periodic summary'));
  assert.ok(lines.length >= 2, lines.join('\n'));
  assert.match(
    lines[0]!,
    /records=\+30 bytes=\+0 exchanges=\+0 spans_exported=\+0 drops=\+3 \(kernel_ringbuf_full=3\); totals: records=150 exchanges=7 spans_exported=12 drops=711; open_connections=3 exporter_queue=otlp\/jaeger=4; rss=[\d.]+MiB heap=[\d.]+MiB/,
  );
  assert.match(lines[1]!, /records=\+0 .* drops=\+0; /);
  const n = logger.lines.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(logger.lines.length, n, 'no line after stop()');
});

const BASE = `receivers: {tcp: {}}
processors: {http: {}}
exporters: {debug: {}}
service:
  pipelines: {traces: {receivers: [tcp], processors: [http], exporters: [debug]}}
`;

test('config: telemetry is off by default; address and summary_interval are checked with their paths', () => {
  const reg = builtinRegistry();
  const def = loadConfigText(BASE, 'mem', reg, {});
  assert.deepEqual(def.telemetry, { metricsAddress: '', summaryIntervalMs: 0 });
  const on = loadConfigText(BASE + '  telemetry:\n    metrics: {address: "${env:ADDR}"}\n    logs: {summary_interval: 1m, level: warn}\n', 'mem', reg, {
    ADDR: '0.0.0.0:8888',
  });
  assert.deepEqual(on.telemetry, { metricsAddress: '0.0.0.0:8888', summaryIntervalMs: 60_000 });
  assert.equal(on.logLevel, 'warn');
  assert.throws(
    () => loadConfigText(BASE + '  telemetry: {metrics: {address: "localhost"}}\n', 'mem', reg, {}),
    /^ConfigError: service::telemetry::metrics::address: expected host:port/,
  );
  assert.throws(
    () => loadConfigText(BASE + '  telemetry: {metrics: {adress: ":1"}}\n', 'mem', reg, {}),
    /service::telemetry::metrics::adress: unknown key; valid keys: address/,
  );
  assert.throws(
    () => loadConfigText(BASE + '  telemetry: {logs: {summary_interval: soon}}\n', 'mem', reg, {}),
    /service::telemetry::logs::summary_interval: expected a duration/,
  );
  assert.throws(
    () => loadConfigText(BASE + '  telemetry: {traces: {}}\n', 'mem', reg, {}),
    /service::telemetry::traces: unknown key; valid keys: logs, metrics/,
  );
});
