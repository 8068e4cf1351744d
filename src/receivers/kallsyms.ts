// Which kernel functions exist here (for hooks that only some kernels have, e.g. tcp_sendpage
// up to 6.4). Read once from /proc/kallsyms.
import * as fs from 'node:fs';

let names: Set<string> | undefined;

/** /proc/kallsyms could be read and lists functions (so an absent one is really absent). */
export function kernelFunctionsKnown(): boolean {
  kernelHasFunction('');
  return names!.size > 0;
}

export function kernelHasFunction(name: string): boolean {
  if (!names) {
    names = new Set();
    try {
      for (const line of fs.readFileSync('/proc/kallsyms', 'latin1').split('\n')) {
        const parts = line.split(' ');
        if (parts[1] === 'T' || parts[1] === 't') names.add(parts[2]!);
      }
    } catch {
      // unreadable: assume nothing optional exists
    }
  }
  return names.has(name);
}
