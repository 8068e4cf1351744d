// Which gRPC failures are worth retrying, and how long to wait, after the Collector's
// exporterhelper: exponential back-off (×1.5) with ±50% jitter, capped, and a total budget.

import { status } from '@grpc/grpc-js';

/**
 * Transient conditions: the backend is down, overloaded or the call ran out of time.
 * Everything else (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED,
 * NOT_FOUND, INTERNAL, ...) would fail the same way again: it is permanent and dropped.
 */
const RETRYABLE = new Set<number>([status.CANCELLED, status.DEADLINE_EXCEEDED, status.ABORTED, status.OUT_OF_RANGE, status.UNAVAILABLE, status.DATA_LOSS]);

/**
 * RESOURCE_EXHAUSTED is retried only when the server sent RetryInfo (it is throttling and says
 * when to come back), as the Collector's otlp exporter does: without it, it usually means the
 * request is larger than the server accepts, which fails the same way every time.
 */
export const isRetryable = (code: number, hasRetryInfo = false) => RETRYABLE.has(code) || (code === status.RESOURCE_EXHAUSTED && hasRetryInfo);

export const statusName = (code: number) => status[code] ?? `code ${code}`;

const MULTIPLIER = 1.5;
const RANDOMIZATION = 0.5;

export class Backoff {
  private current: number;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    this.current = initialMs;
  }

  /** The next wait: the current interval ±50%, then the interval grows ×1.5 up to the cap. */
  next(): number {
    const delta = RANDOMIZATION * this.current;
    const wait = this.current - delta + this.random() * 2 * delta;
    this.current = Math.min(this.current * MULTIPLIER, this.maxMs);
    return Math.max(1, Math.round(wait));
  }
}
