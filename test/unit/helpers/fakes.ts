// Stand-ins for the tcp receiver and http processor, so config and service tests run without
// the kernel and do not depend on those components' settings; plus span builders.

import type { ChunkProcessorComponent, ComponentFactory, CreateContext, ReceiverComponent, SpanProcessorComponent, Stats } from '../../../src/core/component';
import type { ChunkConsumer, CaptureChunk, Resource, SpanConsumer, SpanRecord } from '../../../src/core/types';
import { SpanKind, StatusCode } from '../../../src/core/types';
import { parseSection, type SectionSpec } from '../../../src/config/schema';
import { Registry, type AnyFactory } from '../../../src/config/registry';
import { batchProcessorFactory } from '../../../src/processors/batch';
import { debugExporterFactory } from '../../../src/exporters/debug';
import { fileExporterFactory } from '../../../src/exporters/file';
import { otlpGrpcExporterFactory } from '../../../src/exporters/otlp_grpc';
import { createLogger, type Logger } from '../../../src/core/logger';

/** Lifecycle events of fake components, in order: 'start receiver/tcp', 'shutdown exporter/debug'... */
export const events: string[] = [];

const receiverSpec: SectionSpec = { ports: { type: 'list', of: { type: 'int', min: 1, max: 65535 }, default: [] } };
export class FakeReceiver implements ReceiverComponent {
  static instances: FakeReceiver[] = [];
  constructor(
    readonly ctx: CreateContext,
    readonly consumer: ChunkConsumer,
    readonly failStart = false,
  ) {
    FakeReceiver.instances.push(this);
  }
  async start() {
    events.push(`start receiver ${this.ctx.id}`);
    if (this.failStart) throw new Error('no permission to load eBPF programs');
  }
  async shutdown() {
    events.push(`shutdown receiver ${this.ctx.id}`);
  }
  stats(): Stats {
    return { records: 10, bytes: 1000, 'drops.ring_full': 2 };
  }
}

export const fakeReceiverFactory: ComponentFactory<{ ports: number[] }, FakeReceiver, ChunkConsumer> = {
  type: 'tcp',
  kind: 'receiver',
  description: 'fake tcp receiver',
  parseConfig: (raw, path) => parseSection(raw, path, receiverSpec),
  create: (_cfg, ctx, next) => new FakeReceiver(ctx, next),
};

const httpSpec: SectionSpec = { max_body_bytes: { type: 'bytes', default: 0, min: 0 } };
/** Turns every chunk into one span named after its comm, so wiring is visible. */
export class FakeHttp implements ChunkProcessorComponent {
  exchanges = 0;
  constructor(
    readonly ctx: CreateContext,
    readonly next: SpanConsumer,
  ) {}
  consumeChunks(chunks: CaptureChunk[]) {
    this.exchanges += chunks.length;
    this.next.consumeSpans(chunks.map((c, i) => makeSpan({ name: `${c.comm} ${this.ctx.id}`, spanId: (i + 1).toString(16).padStart(16, '0') })));
  }
  async start() {
    events.push(`start processor ${this.ctx.id}`);
  }
  async shutdown() {
    events.push(`shutdown processor ${this.ctx.id}`);
  }
  stats(): Stats {
    return { exchanges: this.exchanges, 'drops.gap': 0 };
  }
}

export const fakeHttpFactory: ComponentFactory<{ max_body_bytes: number }, FakeHttp, SpanConsumer> = {
  type: 'http',
  kind: 'processor',
  stage: 'chunks',
  description: 'fake http processor',
  parseConfig: (raw, path) => parseSection(raw, path, httpSpec),
  create: (_cfg, ctx, next) => new FakeHttp(ctx, next),
};

/** A span processor that records what passes through. */
export class Tap implements SpanProcessorComponent {
  seen: string[] = [];
  constructor(
    readonly ctx: CreateContext,
    readonly next: SpanConsumer,
  ) {}
  consumeSpans(spans: SpanRecord[]) {
    this.seen.push(...spans.map((s) => s.name));
    this.next.consumeSpans(spans);
  }
  async start() {
    events.push(`start processor ${this.ctx.id}`);
  }
  async shutdown() {
    events.push(`shutdown processor ${this.ctx.id}`);
  }
  stats(): Stats {
    return {};
  }
}

export const tapFactory: ComponentFactory<unknown, Tap, SpanConsumer> = {
  type: 'tap',
  kind: 'processor',
  stage: 'spans',
  description: 'test span tap',
  parseConfig: (raw, path) => parseSection(raw, path, {}),
  create: (_cfg, ctx, next) => new Tap(ctx, next),
};

export function testRegistry(extra: AnyFactory[] = []): Registry {
  return new Registry(
    [fakeReceiverFactory, fakeHttpFactory, batchProcessorFactory, debugExporterFactory, fileExporterFactory, otlpGrpcExporterFactory, ...extra],
    [{ kind: 'exporter', alias: 'otlp', target: 'otlp_grpc' }],
  );
}

/** A next consumer that drops what it gets, for components whose output a test does not look at. */
export const DISCARD: ChunkConsumer & SpanConsumer = { consumeChunks() {}, consumeSpans() {} };

/** A logger that keeps its lines (and prints nothing). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger('debug', '', (l) => lines.push(l));
  return Object.assign(logger, { lines });
}

export const RESOURCE_A: Resource = {
  attributes: { 'service.name': 'checkout', 'process.pid': 4242, 'host.name': 'node-1' },
};
export const RESOURCE_B: Resource = { attributes: { 'service.name': 'curl', 'process.pid': 7 } };

let counter = 0;
export function makeSpan(over: Partial<SpanRecord> = {}): SpanRecord {
  counter++;
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: counter.toString(16).padStart(16, '0'),
    name: 'GET /api/items',
    kind: SpanKind.CLIENT,
    startTimeUnixNano: 1_700_000_000_123_456_789n,
    endTimeUnixNano: 1_700_000_000_135_456_789n,
    attributes: { 'http.request.method': 'GET', 'url.path': '/api/items', 'http.response.status_code': 200 },
    events: [],
    status: { code: StatusCode.UNSET },
    resource: RESOURCE_A,
    ...over,
  };
}

export function chunk(comm: string): CaptureChunk {
  return {
    kind: 'data',
    conn: { connId: 'c1', family: 4, localAddr: '127.0.0.1', localPort: 5000, remoteAddr: '127.0.0.1', remotePort: 80, role: 'client' },
    direction: 'egress',
    offset: 0,
    data: Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    lostAfter: 0,
    timeUnixNano: 1n,
    pid: 1,
    tid: 1,
    comm,
    source: 'tcp/test',
  };
}
