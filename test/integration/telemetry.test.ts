// Self-telemetry of the real collector: its Prometheus endpoint is scraped with a real HTTP
// client while real traffic flows, and the periodic summary line appears in its log.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, run, startServer, stop } from './harness';
import { httpGet, metricSample as sample, startCli, waitUntil } from './backends';

test('the Prometheus endpoint reports live counts while traffic flows; the periodic summary is logged', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tel-'));
  const www = path.join(dir, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'hello.txt'), 'hello\n');
  const server = await startServer('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], '127.0.0.1', port, www);
  let cli: Awaited<ReturnType<typeof startCli>> | undefined;
  try {
    cli = await startCli(`receivers:
  tcp: { ports: [${port}] }
processors:
  http: {}
  batch: { timeout: 50ms }
exporters:
  file/out: { path: ${JSON.stringify(path.join(dir, 'spans.jsonl'))} }
service:
  telemetry:
    metrics: { address: 127.0.0.1:${metricsPort} }
    logs: { summary_interval: 300ms }
  pipelines:
    traces: { receivers: [tcp], processors: [http, batch], exporters: [file/out] }
`);
    const url = `http://127.0.0.1:${metricsPort}/metrics`;
    assert.equal((await httpGet(`http://127.0.0.1:${metricsPort}/healthz`)).status, 200);
    const before = (await httpGet(url)).body;
    assert.equal(sample(before, 'tcpsniff_processor_exchanges_total', { processor: 'http' }) ?? 0, 0);

    for (let i = 0; i < 5; i++) await run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${port}/hello.txt`]);
    // Scrape while the collector is running, until the five exchanges are through.
    const text = await waitUntil('5 exchanges and 10 spans in /metrics', async () => {
      const t = (await httpGet(url)).body;
      return (
        sample(t, 'tcpsniff_processor_exchanges_total', { processor: 'http', pipeline: 'traces' }) === 10 &&
        sample(t, 'tcpsniff_exporter_spans_sent_total', { exporter: 'file/out' }) === 10 &&
        t
      );
    });
    // 5 requests seen from both ends (curl the client, python the server) = 10 exchanges.
    assert.ok(sample(text, 'tcpsniff_receiver_records_total', { receiver: 'tcp', backend: 'syscalls' })! >= 20);
    assert.ok(sample(text, 'tcpsniff_receiver_bytes_total', { receiver: 'tcp' })! >= 5 * 2 * (70 + 6));
    assert.equal(sample(text, 'tcpsniff_dropped_total', { receiver: 'tcp', reason: 'kernel_ringbuf_full' }), 0);
    assert.equal(sample(text, 'tcpsniff_dropped_total', { processor: 'http', reason: 'gap' }), 0);
    assert.equal(sample(text, 'tcpsniff_dropped_total', { exporter: 'file/out', reason: 'write_failed' }), 0);
    assert.ok(sample(text, 'tcpsniff_receiver_connections_open', { receiver: 'tcp' }) !== undefined);
    assert.ok(sample(text, 'tcpsniff_processor_spans_in_total', { processor: 'batch', pipeline: 'traces' })! === 10);
    assert.ok(sample(text, 'process_resident_memory_bytes')! > 10e6);
    assert.match(text, /^# TYPE tcpsniff_dropped_total counter$/m);

    const c = cli;
    await waitUntil('a periodic summary with the exchanges', () =>
      /periodic summary \(last [\d.]+s\): .*totals: records=\d+ exchanges=10 spans_exported=10 drops=0; open_connections=\d+; rss=/.test(c.output()),
    );
  } finally {
    const code = cli ? await cli.stop() : null;
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
    if (cli) assert.equal(code, 0, cli.output());
  }
});
