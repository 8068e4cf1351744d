// Which kernel functions exist here (for hooks that only some kernels have, e.g. tcp_sendpage
// up to 6.4), from /proc/kallsyms. Only start-up asks (which backend, which optional hooks), so
// its text (5 MB, 120,000 lines on 6.18) is kept for a few seconds, not for the process's life: a
// set of every name kept slices of it alive, about 15 MB of the heap of an idle collector.
import * as fs from 'node:fs';

const KEEP_MS = 10_000;
let text: string | undefined;

function kallsyms(): string {
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/kallsyms', 'latin1');
    } catch {
      text = ''; // unreadable: assume nothing optional exists
    }
    setTimeout(() => (text = undefined), KEEP_MS).unref();
  }
  return text;
}

/** /proc/kallsyms could be read and lists functions (so an absent one is really absent). */
export function kernelFunctionsKnown(): boolean {
  return /^\S+ [Tt] /m.test(kallsyms());
}

/** A function of the kernel itself (not of a module): lines `ADDRESS T|t NAME`. */
export function kernelHasFunction(name: string): boolean {
  const t = kallsyms();
  return t.includes(` T ${name}\n`) || t.includes(` t ${name}\n`);
}
