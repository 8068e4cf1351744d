// Hands the same data to several consumers (a receiver shared by pipelines, a pipeline with
// several exporters). Consumers must treat what they get as read-only: it is shared.
// A consumer that throws is logged (rate-limited) and does not keep the others from running.

import type { Logger } from '../core/logger';
import type { CaptureChunk, ChunkConsumer, SpanConsumer, SpanRecord } from '../core/types';
import { FailureLog } from './failure-log';

interface Named<T> {
  id: string;
  consumer: T;
}

export class ChunkFanout implements ChunkConsumer {
  private readonly failures: FailureLog;
  constructor(
    private readonly targets: Array<Named<ChunkConsumer>>,
    logger: Logger,
  ) {
    this.failures = new FailureLog(logger);
  }
  consumeChunks(chunks: CaptureChunk[]): void {
    for (const t of this.targets) {
      try {
        t.consumer.consumeChunks(chunks);
      } catch (e) {
        this.failures.failure(`${t.id} failed on ${chunks.length} chunk(s): ${(e as Error).stack ?? e}`);
      }
    }
  }
}

export class SpanFanout implements SpanConsumer {
  private readonly failures: FailureLog;
  constructor(
    private readonly targets: Array<Named<SpanConsumer>>,
    logger: Logger,
  ) {
    this.failures = new FailureLog(logger);
  }
  consumeSpans(spans: SpanRecord[]): void {
    for (const t of this.targets) {
      try {
        t.consumer.consumeSpans(spans);
      } catch (e) {
        this.failures.failure(`${t.id} failed on ${spans.length} span(s): ${(e as Error).stack ?? e}`);
      }
    }
  }
}
