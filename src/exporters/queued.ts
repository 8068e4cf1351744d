// The pipeline never waits for a backend, so consumeSpans only enqueues. num_consumers
// senders take batches from the bounded queue and hand them to a transport (OTLP/gRPC of our own,
// or an OpenTelemetry JS SpanExporter), retrying retryable failures with back-off and splitting
// requests too large for the backend. What does not fit in the queue, fails permanently, runs out
// of retry time, or is still queued when the flush timeout at shutdown ends, is dropped and
// counted by reason.

import { isValidSpanId, isValidTraceId } from '@opentelemetry/api';
import type { CreateContext, ExporterComponent, Stats } from '../core/component';
import type { SpanRecord } from '../core/types';
import { FailureLog } from '../util/failure-log';
import type { OtlpGrpcConfig } from './otlp/exporter-config';
import { Backoff, isRetryable, statusName } from './otlp/retry';

/** The settings of the queue, the retries and the shutdown flush (the Collector's exporterhelper keys). */
/** What one export attempt came to (the transport's answer, in gRPC status terms). */
export type ExportResult =
  | { ok: true; rejectedSpans: number; errorMessage: string }
  /** retryDelayMs: the server's RetryInfo, when it sent one (throttling). */
  | { ok: false; code: number; message: string; retryDelayMs?: number };

export type QueueSettings = Pick<OtlpGrpcConfig, 'timeout' | 'sending_queue' | 'retry_on_failure' | 'flush_timeout'>;

/** Where a queued exporter sends batches. */
export interface SpanTransport {
  /** Where spans go, for messages. */
  readonly target: string;
  /** How, for the start-up debug line. */
  readonly detail: string;
  /** A batch made ready: the size of its OTLP request (for the split) and one export attempt. */
  prepare(batch: SpanRecord[]): PreparedRequest;
  /** Ends calls in flight and the connection. */
  close(): void;
}

export interface PreparedRequest {
  bytes: number;
  /** One attempt, with the failure as a gRPC status (retryable or not); never rejects. */
  attempt(timeoutMs: number): Promise<ExportResult>;
}

/**
 * gRPC servers (the Collector, Jaeger) refuse messages over 4 MiB by default; a batch whose
 * request would be larger is split in halves until each part fits (a single span that alone
 * is larger is sent as it is, and the backend's answer decides).
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024 - 16 * 1024;

/** A wait that shutdown can cut short. */
class Sleeper {
  private readonly waiting = new Set<() => void>();
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
    });
  }
  wakeAll() {
    for (const done of [...this.waiting]) done();
  }
}

export class QueuedSpanExporter implements ExporterComponent {
  private readonly queue: SpanRecord[][] = [];
  private queuedSpans = 0;
  private inFlight = 0;
  private inFlightSpans = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly sleeper = new Sleeper();
  private readonly failures: FailureLog;
  private started = false;
  private closing = false;
  /** Set when the flush timeout at shutdown has passed: senders stop trying. */
  private abandoned = false;
  private shutdownPromise: Promise<void> | undefined;
  private readonly counters = {
    spansReceived: 0,
    spansSent: 0,
    splits: 0,
    batchesSent: 0,
    retries: 0,
    queueFull: 0,
    exportFailed: 0,
    rejectedByBackend: 0,
    invalidSpan: 0,
    unsentAtShutdown: 0,
  };

  constructor(
    private readonly cfg: QueueSettings,
    private readonly ctx: CreateContext,
    private readonly transport: SpanTransport,
  ) {
    this.failures = new FailureLog(ctx.logger);
  }

  async start(): Promise<void> {
    // No connection attempt here: start returns fast and a backend that is not up yet is
    // handled by the retries of the first batches.
    this.started = true;
    this.ctx.logger.debug(`exporting to ${this.transport.target} (${this.transport.detail})`);
  }

  consumeSpans(spans: SpanRecord[]): void {
    if (spans.length === 0) return;
    this.counters.spansReceived += spans.length;
    if (this.closing) {
      this.counters.unsentAtShutdown += spans.length;
      return;
    }
    // A malformed or all-zero ID (invalid span context) would make the backend reject the whole
    // request: drop just that span.
    const valid = spans.filter((s) => isValidTraceId(s.traceId) && isValidSpanId(s.spanId) && (!s.parentSpanId || isValidSpanId(s.parentSpanId)));
    this.counters.invalidSpan += spans.length - valid.length;
    if (valid.length === 0) return;

    const q = this.cfg.sending_queue;
    const capacity = q.enabled ? q.queue_size : 0;
    const senderFree = this.inFlight < q.num_consumers;
    // The bound counts batches (sizer: requests) or spans (sizer: items), as in the Collector.
    const full = q.sizer === 'items' ? this.queuedSpans + valid.length > capacity : this.queue.length >= capacity;
    if (full && !(senderFree && this.queue.length === 0)) {
      this.counters.queueFull += valid.length;
      this.failures.failure(
        `sending queue full (${this.queue.length} batches, ${this.queuedSpans} spans): dropping spans; the backend at ${this.transport.target} is slower than the traffic or down`,
      );
      return;
    }
    this.queue.push(valid);
    this.queuedSpans += valid.length;
    this.pump();
  }

  /** Starts senders while there is work and a free slot. */
  private pump() {
    while (!this.abandoned && this.inFlight < this.cfg.sending_queue.num_consumers && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.queuedSpans -= batch.length;
      this.inFlight++;
      this.inFlightSpans += batch.length;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.inFlightSpans -= batch.length;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
      });
    }
  }

  private async send(batch: SpanRecord[]): Promise<void> {
    const request = this.transport.prepare(batch);
    if (request.bytes > MAX_REQUEST_BYTES && batch.length > 1) {
      this.counters.splits++;
      const half = batch.length >> 1;
      await this.send(batch.slice(0, half));
      await this.send(batch.slice(half));
      return;
    }
    const retry = this.cfg.retry_on_failure;
    const backoff = new Backoff(retry.initial_interval, retry.max_interval);
    const firstAttempt = Date.now();
    for (;;) {
      if (this.abandoned) {
        this.counters.unsentAtShutdown += batch.length;
        return;
      }
      const result = await request.attempt(this.cfg.timeout);
      if (result.ok) return this.delivered(batch, result);
      if (this.abandoned) {
        this.counters.unsentAtShutdown += batch.length;
        return;
      }
      const what = `export of ${batch.length} span(s) to ${this.transport.target} failed: ${statusName(result.code)}: ${result.message}`;
      const retryable = isRetryable(result.code, result.retryDelayMs !== undefined);
      if (!retryable || !retry.enabled) {
        this.counters.exportFailed += batch.length;
        this.failures.failure(`${what} (${retryable ? 'retries disabled' : 'permanent error, not retried'}; spans dropped)`);
        return;
      }
      // A throttling server's RetryInfo sets the least wait.
      const wait = Math.max(backoff.next(), result.retryDelayMs ?? 0);
      const elapsed = Date.now() - firstAttempt;
      if (retry.max_elapsed_time > 0 && elapsed + wait > retry.max_elapsed_time) {
        this.counters.exportFailed += batch.length;
        this.failures.failure(`${what} (gave up after ${Math.round(elapsed / 1000)}s of retries; spans dropped)`);
        return;
      }
      this.failures.failure(`${what} (will retry)`);
      this.counters.retries++;
      await this.sleeper.sleep(wait);
    }
  }

  private delivered(batch: SpanRecord[], result: Extract<ExportResult, { ok: true }>) {
    const rejected = Math.min(Math.max(result.rejectedSpans, 0), batch.length);
    this.counters.spansSent += batch.length - rejected;
    this.counters.batchesSent++;
    if (rejected > 0 || result.errorMessage) {
      this.counters.rejectedByBackend += rejected;
      this.failures.failure(
        `backend at ${this.transport.target} rejected ${rejected} of ${batch.length} span(s)${result.errorMessage ? `: ${result.errorMessage}` : ''}`,
      );
    } else {
      this.failures.success(`exports to ${this.transport.target} succeed again`);
    }
  }

  private idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.flushAndClose();
    return this.shutdownPromise;
  }

  private async flushAndClose(): Promise<void> {
    this.closing = true;
    if (this.started && (this.queue.length > 0 || this.inFlight > 0)) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.cfg.flush_timeout)));
      // Waits between retries would outlast the flush: retry at once instead.
      const hurry = setInterval(() => this.sleeper.wakeAll(), 250);
      await Promise.race([this.idle(), deadline]);
      clearTimeout(timer);
      clearInterval(hurry);
    }
    // Cancels calls in flight and wakes waiting senders; they count what they held as unsent.
    this.abandon();
    await this.idle();
    if (this.counters.unsentAtShutdown > 0) {
      this.ctx.logger.warn(
        `could not send ${this.counters.unsentAtShutdown} span(s) to ${this.transport.target} before the flush timeout (${this.cfg.flush_timeout}ms); they are dropped`,
      );
    }
  }

  /** Counts what is still queued as unsent and stops the senders. */
  private abandon() {
    this.abandoned = true;
    this.counters.unsentAtShutdown += this.queuedSpans;
    this.queue.length = 0;
    this.queuedSpans = 0;
    this.sleeper.wakeAll();
    this.transport.close();
  }

  stats(): Stats {
    const c = this.counters;
    return {
      'spans.received': c.spansReceived,
      'spans.sent': c.spansSent,
      'batches.sent': c.batchesSent,
      'batches.split': c.splits,
      retries: c.retries,
      'queue.batches': this.queue.length,
      'queue.spans': this.queuedSpans,
      'inflight.spans': this.inFlightSpans,
      'drops.exporter_queue_full': c.queueFull,
      'drops.export_failed': c.exportFailed,
      'drops.rejected_by_backend': c.rejectedByBackend,
      'drops.invalid_span': c.invalidSpan,
      'drops.unsent_at_shutdown': c.unsentAtShutdown,
    };
  }
}
