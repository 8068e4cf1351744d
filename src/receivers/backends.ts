// A receiver may observe the kernel through several backends (fentry, kprobe, tracepoints…).
// They are tried in preference order; the first that loads runs. The choice and the reasons
// the others were not used are logged once. A config key can force one backend.
import { UserError } from '../core/component';
import type { Logger } from '../core/logger';

export interface BackendCandidate<R> {
  name: string;
  /** One line for logs and `doctor`: what the backend hooks. */
  describe: string;
  /** Loads and attaches, or throws saying why it cannot run here. */
  start(): Promise<R>;
}

export async function startFirstAvailable<R>(
  receiver: string,
  candidates: BackendCandidate<R>[],
  forced: string,
  logger: Logger,
): Promise<{ name: string; running: R }> {
  const tried = forced === 'auto' ? candidates : candidates.filter((c) => c.name === forced);
  if (tried.length === 0) throw new UserError(`${receiver}: unknown backend "${forced}"; valid: auto, ${candidates.map((c) => c.name).join(', ')}`);
  const failures: string[] = [];
  for (const c of tried) {
    try {
      const running = await c.start();
      const others = failures.length ? `; not used: ${failures.join('; ')}` : '';
      logger.info(`${receiver}: using backend ${c.name} (${c.describe})${others}`);
      return { name: c.name, running };
    } catch (e) {
      failures.push(`${c.name}: ${firstLine((e as Error).message)}`);
      logger.debug(`${receiver}: backend ${c.name} failed: ${(e as Error).message}`);
    }
  }
  throw new UserError(`${receiver}: no backend could start here — ${failures.join('; ')}`);
}

const firstLine = (s: string) => s.split('\n')[0] ?? s;
