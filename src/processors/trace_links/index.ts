// The `trace_links` processor: joins the spans of one request's path through this host into one
// trace (README.md in this folder: the rules, what each links and never links). Put it right
// after `http`; it reads SpanRecord.internal.link, which only the http processor writes.

import type { ComponentFactory, CreateContext, SpanProcessorComponent, Stats } from '../../core/component';
import type { SpanConsumer, SpanRecord } from '../../core/types';
import { parseSection, type SectionSpec } from '../../config/schema';
import { Linker } from './linker';
import { RuntimeClassifier } from './runtime';

export interface TraceLinksConfig {
  window: number; // ms
  max_spans: number;
  clock_slack: number; // ms
  connection_links: boolean;
  thread_links: boolean;
  event_loop_guard: boolean;
  event_loop_executables: string[];
  caller_context: boolean;
}

export const traceLinksSpec: SectionSpec = {
  window: {
    type: 'duration',
    default: 2000,
    min: 1,
    doc: 'longest a span waits for its parent (children complete before their parents), and how long exported spans stay findable by late children',
  },
  max_spans: {
    type: 'int',
    default: 20_000,
    min: 1,
    doc: 'spans held or indexed at once; beyond it the oldest leave (a waiting one unlinked: unlinked.capacity)',
  },
  clock_slack: { type: 'duration', default: 20, doc: 'tolerated disagreement between the timestamps of the two ends of one connection' },
  connection_links: {
    type: 'bool',
    default: true,
    doc: 'rule 1: the SERVER end of a local connection is the child of its CLIENT end (HTTP/1 by stream offset, HTTP/2 and gRPC by stream id)',
  },
  thread_links: {
    type: 'bool',
    default: true,
    doc: "rule 2: a CLIENT exchange made by a thread inside its only open SERVER exchange is that exchange's child",
  },
  event_loop_guard: {
    type: 'bool',
    default: true,
    doc: 'rule 3: no thread links in event-loop or green-thread runtimes (event_loop_executables, Go binaries, Python main threads)',
  },
  event_loop_executables: {
    type: 'list',
    of: { type: 'string' },
    default: ['node', 'nodejs', 'deno', 'bun'],
    doc: 'executable names of event-loop runtimes (rule 3)',
  },
  caller_context: {
    type: 'bool',
    default: true,
    doc: "rule 4: a span whose request carried a valid traceparent keeps it, and the chain below joins the caller's trace; false: such spans pass untouched and unjoined",
  },
};

export class TraceLinksProcessor implements SpanProcessorComponent {
  private readonly linker: Linker;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private errors = 0;

  constructor(
    private readonly cfg: TraceLinksConfig,
    private readonly ctx: CreateContext,
    private readonly next: SpanConsumer,
  ) {
    this.linker = new Linker({
      windowMs: cfg.window,
      maxSpans: cfg.max_spans,
      slackNs: BigInt(cfg.clock_slack) * 1_000_000n,
      connectionLinks: cfg.connection_links,
      threadLinks: cfg.thread_links,
      eventLoopGuard: cfg.event_loop_guard,
      callerContext: cfg.caller_context,
      runtime: new RuntimeClassifier({ eventLoopExecutables: cfg.event_loop_executables }),
    });
  }

  async start(): Promise<void> {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setInterval(() => this.emit(this.linker.tick(performance.now())), Math.max(10, Math.min(this.cfg.window / 4, 1000)));
    this.timer.unref();
  }

  consumeSpans(spans: SpanRecord[]): void {
    if (this.closed) return this.emit(spans); // upstream stops first; never lose a late span
    let ready: SpanRecord[];
    try {
      ready = this.linker.add(spans, performance.now());
    } catch (e) {
      // A bug here must not lose spans: they go on as they are (counted, logged once).
      if (this.errors++ === 0) this.ctx.logger.error(`internal error, spans passed on unlinked: ${(e as Error).stack ?? e}`);
      ready = this.linker.salvage(spans);
    }
    this.emit(ready);
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.emit(this.linker.drain());
    const c = this.linker.counters;
    const nonZero = Object.entries(c).filter(([k, n]) => n > 0 && k !== 'spans.in' && k !== 'spans.out');
    this.ctx.logger.info(`${c['spans.in']} span(s) in, ${c['spans.out']} out; ${nonZero.map(([k, n]) => `${k}=${n}`).join(' ') || 'no links'}`);
  }

  stats(): Stats {
    return { ...this.linker.counters, 'spans.held': this.linker.held, 'window.spans': this.linker.windowSize, errors: this.errors };
  }

  private emit(spans: SpanRecord[]): void {
    if (spans.length === 0) return;
    try {
      this.next.consumeSpans(spans);
    } catch (e) {
      this.ctx.logger.error(`next stage failed on ${spans.length} span(s): ${(e as Error).stack ?? e}`);
    }
  }
}

export const traceLinksProcessorFactory: ComponentFactory<TraceLinksConfig, TraceLinksProcessor, SpanConsumer> & { spec: SectionSpec } = {
  type: 'trace_links',
  kind: 'processor',
  stage: 'spans',
  description:
    "joins the spans of one request through this host into one trace: both ends of a local connection, a thread-per-request server and its calls, a caller's traceparent (put it right after http)",
  spec: traceLinksSpec,
  parseConfig: (raw, path) => parseSection<TraceLinksConfig>(raw, path, traceLinksSpec),
  create: (cfg, ctx, next) => new TraceLinksProcessor(cfg, ctx, next),
};
