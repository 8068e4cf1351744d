// The service built from a config: wiring (receiver fan-out to pipelines, exporter fan-out),
// start/shutdown order, the `ready` line, failure isolation and the summary.
import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ComponentFactory, ExporterComponent, Stats } from '../../src/core/component';
import type { ChunkConsumer, SpanRecord } from '../../src/core/types';
import { parseSection } from '../../src/config/schema';
import { loadConfigText } from '../../src/config/loader';
import { Service } from '../../src/service';
import { formatSummary } from '../../src/summary';
import { FakeReceiver, chunk, events, memoryLogger, tapFactory, testRegistry } from './helpers/fakes';

class MemExporter implements ExporterComponent {
  static byId = new Map<string, MemExporter>();
  spans: SpanRecord[] = [];
  constructor(
    readonly id: string,
    readonly failShutdown: boolean,
    readonly hang: boolean,
  ) {
    MemExporter.byId.set(id, this);
  }
  consumeSpans(spans: SpanRecord[]) {
    this.spans.push(...spans);
  }
  async start() {
    events.push(`start exporter ${this.id}`);
  }
  shutdown(): Promise<void> {
    events.push(`shutdown exporter ${this.id}`);
    if (this.hang) return new Promise(() => {});
    return this.failShutdown ? Promise.reject(new Error('disk on fire')) : Promise.resolve();
  }
  stats(): Stats {
    return { 'spans.sent': this.spans.length, 'drops.exporter_queue_full': 0 };
  }
}

const memFactory: ComponentFactory<{ fail_shutdown: boolean; hang: boolean }, MemExporter> = {
  type: 'mem',
  kind: 'exporter',
  description: 'test exporter',
  parseConfig: (raw, path) => parseSection(raw, path, { fail_shutdown: { type: 'bool', default: false }, hang: { type: 'bool', default: false } }),
  create: (cfg, ctx) => new MemExporter(ctx.id, cfg.fail_shutdown, cfg.hang),
};

const registry = testRegistry([tapFactory, memFactory]);

beforeEach(() => {
  events.length = 0;
  FakeReceiver.instances.length = 0;
  MemExporter.byId.clear();
});

const TWO_PIPELINES = `
receivers:
  tcp:
processors:
  http:
  tap:
exporters:
  mem/a:
  mem/b:
service:
  pipelines:
    traces:
      receivers: [tcp]
      processors: [http, tap]
      exporters: [mem/a, mem/b]
    traces/second:
      receivers: [tcp]
      processors: [http]
      exporters: [mem/b]
`;

test('a shared receiver fans out to every pipeline; a pipeline fans out to every exporter', async () => {
  const logger = memoryLogger();
  const service = new Service(loadConfigText(TWO_PIPELINES, 't.yaml', registry, {}), { logger });
  await service.start();
  assert.equal(FakeReceiver.instances.length, 1, 'one receiver instance per ID, shared');
  FakeReceiver.instances[0]!.consumer!.consumeChunks([chunk('curl')]);

  assert.deepEqual(
    MemExporter.byId.get('mem/a')!.spans.map((s) => s.name),
    ['curl http'],
  );
  assert.deepEqual(
    MemExporter.byId
      .get('mem/b')!
      .spans.map((s) => s.name)
      .sort(),
    ['curl http', 'curl http'],
  );

  // Start: exporters, then processors (downstream first), then receivers; `ready` after all.
  assert.deepEqual(events, [
    'start exporter mem/a',
    'start exporter mem/b',
    'start processor tap',
    'start processor http',
    'start processor http',
    'start receiver tcp',
  ]);
  const ready = logger.lines.filter((l) => /\bready\b/.test(l));
  assert.equal(ready.length, 1);
  assert.match(
    ready[0]!,
    /ready: 2 pipeline\(s\), 1 of 1 receiver\(s\) running \(traces: tcp → http → tap → mem\/a\+mem\/b; traces\/second: tcp → http → mem\/b\)/,
  );

  events.length = 0;
  const summary = await service.shutdown();
  assert.deepEqual(events.slice(0, 1), ['shutdown receiver tcp']);
  assert.deepEqual(events.slice(-2).sort(), ['shutdown exporter mem/a', 'shutdown exporter mem/b']);
  assert.equal(events.length, 6);
  // Within pipeline `traces`, http stops before tap so its flush can still reach tap.
  const first = events.filter((e) => e.startsWith('shutdown processor'));
  assert.ok(first.indexOf('shutdown processor http') < first.indexOf('shutdown processor tap'));

  assert.equal(summary.records, 10);
  assert.equal(summary.bytes, 1000);
  assert.equal(summary.exchanges, 2);
  assert.equal(summary.spansExported, 3);
  assert.deepEqual(summary.drops, { ring_full: 2, gap: 0, exporter_queue_full: 0 });
  const lines = formatSummary(summary);
  assert.equal(lines[0], 'summary: records=10 bytes=1000 exchanges=2 spans_exported=3 (mem/a=1 mem/b=2) drops_total=2');
  assert.equal(lines[1], 'summary: drops by reason: exporter_queue_full=0 gap=0 ring_full=2');
  assert.equal(lines[2], 'summary: drops by component: receiver/tcp: ring_full=2');

  // Idempotent.
  assert.equal(await service.shutdown(), summary);
});

test('one failing or hanging shutdown does not stop the others', async () => {
  const logger = memoryLogger();
  const cfg = loadConfigText(
    TWO_PIPELINES.replace('  mem/a:', '  mem/a:\n    fail_shutdown: true').replace('  mem/b:', '  mem/b:\n    hang: true'),
    't.yaml',
    registry,
    {},
  );
  const service = new Service(cfg, { logger, componentShutdownTimeoutMs: 100 });
  await service.start();
  const t0 = Date.now();
  const summary = await service.shutdown();
  assert.ok(Date.now() - t0 < 2000);
  assert.ok(events.includes('shutdown exporter mem/a') && events.includes('shutdown exporter mem/b'));
  assert.ok(logger.lines.some((l) => /exporter\/mem\/a failed to shut down: Error: disk on fire/.test(l)));
  assert.ok(logger.lines.some((l) => /exporter\/mem\/b did not shut down within 100ms; moving on/.test(l)));
  assert.equal(summary.records, 10);
});

test('when every receiver fails to start, start() rejects with a user error after cleaning up', async () => {
  const failing: ComponentFactory<unknown, FakeReceiver, ChunkConsumer> = {
    type: 'tcp',
    kind: 'receiver',
    description: 'fails',
    parseConfig: (raw, p) => parseSection(raw, p, {}),
    create: (_c, ctx, next) => new FakeReceiver(ctx, next, true),
  };
  const reg = testRegistry([tapFactory, memFactory]);
  // Replace the fake receiver with the failing one.
  const { Registry } = await import('../../src/config/registry');
  const r2 = new Registry([failing, ...reg.factories().filter((f) => f.kind !== 'receiver')]);
  const logger = memoryLogger();
  const service = new Service(loadConfigText(TWO_PIPELINES, 't.yaml', r2, {}), { logger });
  await assert.rejects(service.start(), /no permission to load eBPF programs/);
  assert.ok(events.includes('shutdown exporter mem/a'), 'exporters were shut down');
  assert.ok(!logger.lines.some((l) => /\bready\b/.test(l)));
});

test('a receiver that fails to start does not stop the others; ready says how many run', async () => {
  const flaky: ComponentFactory<{ fail: boolean }, FakeReceiver, ChunkConsumer> = {
    type: 'flaky',
    kind: 'receiver',
    description: 'fails on demand',
    parseConfig: (raw, p) => parseSection(raw, p, { fail: { type: 'bool', default: false } }),
    create: (cfg, ctx, next) => new FakeReceiver(ctx, next, cfg.fail),
  };
  const logger = memoryLogger();
  const text = TWO_PIPELINES.replace('  tcp:', '  tcp:\n  flaky:\n    fail: true').replace(
    '      receivers: [tcp]\n      processors: [http, tap]',
    '      receivers: [tcp, flaky]\n      processors: [http, tap]',
  );
  const service = new Service(loadConfigText(text, 't.yaml', testRegistry([tapFactory, memFactory, flaky]), {}), { logger });
  await service.start();
  assert.ok(logger.lines.some((l) => /ERROR .*receiver\/flaky did not start: no permission to load eBPF programs/.test(l)));
  assert.ok(logger.lines.some((l) => /ready: 2 pipeline\(s\), 1 of 2 receiver\(s\) running/.test(l)));
  FakeReceiver.instances.find((r) => r.ctx.id === 'tcp')!.consumer!.consumeChunks([chunk('wget')]);
  assert.equal(MemExporter.byId.get('mem/a')!.spans.length, 1);
  await service.shutdown();
});
