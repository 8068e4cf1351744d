// Logs a backend's failures without flooding: the first failure at once, then at most one
// line per interval with how many failed meanwhile, and one line when it works again.
// A backend that is down for an hour should cost a few dozen log lines, not one per batch.

import type { Logger } from '../core/logger';

export class FailureLog {
  private lastLoggedAt = -Infinity;
  private suppressed = 0;
  private failing = false;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  failure(message: string) {
    this.failing = true;
    const t = this.now();
    if (t - this.lastLoggedAt < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed ? ` (${this.suppressed} more failure(s) since the last message)` : '';
    this.logger.warn(message + more);
    this.lastLoggedAt = t;
    this.suppressed = 0;
  }

  success(message: string) {
    if (!this.failing) return;
    this.failing = false;
    this.suppressed = 0;
    this.lastLoggedAt = -Infinity;
    this.logger.info(message);
  }
}
