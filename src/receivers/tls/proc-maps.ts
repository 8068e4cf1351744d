// The executable files a process has mapped, from /proc/PID/maps.
import * as fs from 'node:fs';

/** Paths (in the process's own mount namespace) of its executable file mappings; [] when gone. */
export function mappedExecutables(pid: number, procRoot = '/proc'): string[] {
  let text: string;
  try {
    text = fs.readFileSync(`${procRoot}/${pid}/maps`, 'latin1');
  } catch {
    return []; // exited, or not ours to read
  }
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    // address perms offset dev inode path
    const m = /^\S+ \S\S(x)\S \S+ \S+ \d+ +(\/.*)$/.exec(line);
    if (m && !m[2]!.endsWith(' (deleted)')) files.add(m[2]!);
  }
  return [...files];
}
