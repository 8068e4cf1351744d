// Syscall tracepoints are attached by id, read from tracefs. Some hosts do not mount it.
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';

const ROOTS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

export function tracefsRoot(): string | null {
  for (const r of ROOTS) if (fs.existsSync(`${r}/events`)) return r;
  return null;
}

/** Finds tracefs, mounting it at /sys/kernel/tracing when it is not mounted. */
export function ensureTracefs(): { root: string | null; note?: string } {
  const found = tracefsRoot();
  if (found) return { root: found };
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', '/sys/kernel/tracing'], { encoding: 'utf8' });
  const root = tracefsRoot();
  if (root) return { root, note: 'mounted tracefs at /sys/kernel/tracing' };
  return { root: null, note: `tracefs is not mounted and mounting it failed: ${(r.stderr || r.error?.message || '').trim()}` };
}

export function tracepointExists(root: string, category: string, name: string): boolean {
  return fs.existsSync(`${root}/events/${category}/${name}`);
}
