// The `batch` processor, after the Collector's: groups spans so exporters send fewer, larger
// requests. A batch goes out when it reaches send_batch_size spans or when `timeout` has
// passed since its first span; no batch handed on is larger than send_batch_max_size.
//
// Bounded by construction: it hands on synchronously as soon as send_batch_size is reached
// (exporters only enqueue), so it never holds more than send_batch_size spans plus one
// incoming call's worth.

import { ConfigError, type ComponentFactory, type CreateContext, type SpanProcessorComponent, type Stats } from '../../core/component';
import type { SpanConsumer, SpanRecord } from '../../core/types';
import { join, parseSection, type SectionSpec } from '../../config/schema';

export interface BatchProcessorConfig {
  send_batch_size: number;
  send_batch_max_size: number;
  timeout: number; // ms
}

export const batchProcessorSpec: SectionSpec = {
  send_batch_size: { type: 'int', default: 8192, min: 1, doc: 'spans that make a batch go out at once' },
  send_batch_max_size: {
    type: 'int',
    default: 0,
    min: 0,
    doc: 'upper bound of a batch; larger ones are split; 0 = no bound beyond send_batch_size plus one incoming call',
  },
  timeout: { type: 'duration', default: 200, doc: 'longest a span waits for its batch to fill; 0 hands every call on at once' },
};

export class BatchProcessor implements SpanProcessorComponent {
  private buffer: SpanRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters = { spansIn: 0, batches: 0, bySize: 0, byTimeout: 0, spansAfterShutdown: 0 };

  constructor(
    private readonly cfg: BatchProcessorConfig,
    private readonly ctx: CreateContext,
    private readonly next: SpanConsumer,
  ) {}

  async start(): Promise<void> {}

  consumeSpans(spans: SpanRecord[]): void {
    if (spans.length === 0) return;
    if (this.closed) {
      // Upstream stops before us at shutdown; this only happens if a span arrives late.
      // Pass it on rather than lose it.
      this.counters.spansAfterShutdown += spans.length;
      this.emit(spans);
      return;
    }
    this.counters.spansIn += spans.length;
    if (this.cfg.timeout === 0) {
      this.emitSplit(spans);
      return;
    }
    for (const s of spans) this.buffer.push(s);
    while (this.buffer.length >= this.cfg.send_batch_size) {
      const size = this.cfg.send_batch_max_size > 0 ? Math.min(this.buffer.length, this.cfg.send_batch_max_size) : this.buffer.length;
      const batch = this.buffer.splice(0, size);
      this.counters.bySize++;
      this.emit(batch);
    }
    if (this.buffer.length === 0) this.clearTimer();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.onTimeout(), this.cfg.timeout);
      this.timer.unref();
    }
  }

  private onTimeout() {
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    this.counters.byTimeout++;
    this.emitSplit(this.buffer.splice(0));
  }

  private emitSplit(spans: SpanRecord[]) {
    const max = this.cfg.send_batch_max_size;
    if (max <= 0 || spans.length <= max) return this.emit(spans);
    for (let i = 0; i < spans.length; i += max) this.emit(spans.slice(i, i + max));
  }

  private emit(batch: SpanRecord[]) {
    this.counters.batches++;
    try {
      this.next.consumeSpans(batch);
    } catch (e) {
      // A consumer bug must not leave the timer or the buffer in a broken state.
      this.ctx.logger.error(`next stage failed on a batch of ${batch.length} span(s): ${(e as Error).stack ?? e}`);
    }
  }

  private clearTimer() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.clearTimer();
    if (this.buffer.length) this.emitSplit(this.buffer.splice(0));
  }

  stats(): Stats {
    return {
      'spans.in': this.counters.spansIn,
      'batches.sent': this.counters.batches,
      'batches.by_size': this.counters.bySize,
      'batches.by_timeout': this.counters.byTimeout,
      'buffer.spans': this.buffer.length,
      'spans.after_shutdown': this.counters.spansAfterShutdown,
    };
  }
}

export const batchProcessorFactory: ComponentFactory<BatchProcessorConfig, BatchProcessor, SpanConsumer> & { spec: SectionSpec } = {
  type: 'batch',
  kind: 'processor',
  stage: 'spans',
  description: 'groups spans into larger batches for the exporters (send_batch_size, send_batch_max_size, timeout)',
  spec: batchProcessorSpec,
  parseConfig: (raw, path) => {
    const cfg = parseSection<BatchProcessorConfig>(raw, path, batchProcessorSpec);
    if (cfg.send_batch_max_size > 0 && cfg.send_batch_max_size < cfg.send_batch_size) {
      throw new ConfigError(
        join(path, 'send_batch_max_size'),
        `must be 0 or at least send_batch_size (${cfg.send_batch_size}), got ${cfg.send_batch_max_size}`,
      );
    }
    return cfg;
  },
  create: (cfg, ctx, next) => new BatchProcessor(cfg, ctx, next),
};
