// The executable files a process has mapped, from /proc/PID/maps.
import * as fs from 'node:fs';

/** Paths (in the process's own mount namespace) of its executable file mappings; [] when gone;
 * 'denied' when this process may not read them (see processCandidates). */
export function mappedExecutables(pid: number, procRoot = '/proc'): string[] | 'denied' {
  let text: string;
  try {
    text = fs.readFileSync(`${procRoot}/${pid}/maps`, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : []; // else exited
  }
  const files = new Set<string>();
  for (const line of text.split('\n')) {
    // address perms offset dev inode path
    const m = /^\S+ \S\S(x)\S \S+ \S+ \d+ +(\/.*)$/.exec(line);
    if (m && !m[2]!.endsWith(' (deleted)')) files.add(m[2]!);
  }
  return [...files];
}
