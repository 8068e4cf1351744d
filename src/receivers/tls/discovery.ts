// Where TLS runtimes live on this host: files in the system library directories, and files
// running processes map (opened through /proc/PID/root, so a container's own copy counts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mappedExecutables } from './proc-maps';
import { systemLibraryDirs, type TlsRuntime } from './runtimes';

/** A file that may hold a runtime: where to open it, and its path as its processes see it. */
export interface TlsCandidate {
  runtime: TlsRuntime;
  at: string;
  file: string;
}

export function systemCandidates(runtimes: TlsRuntime[]): TlsCandidate[] {
  const out: TlsCandidate[] = [];
  for (const dir of systemLibraryDirs()) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const at = path.join(dir, n);
      const runtime = runtimes.find((r) => r.matches(at));
      if (runtime) out.push({ runtime, at, file: realPath(at) });
    }
  }
  return out;
}

/** The candidates of one running process; 'denied' when this process may not look into it: its
 * maps, or its root and exe, which the kernel guards more closely (another uid's process, or one
 * with capabilities ours lacks, needs CAP_SYS_PTRACE). */
export function processCandidates(pid: number, runtimes: TlsRuntime[]): TlsCandidate[] | 'denied' {
  const out: TlsCandidate[] = [];
  try {
    fs.statSync(`/proc/${pid}/root`);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : out; // else gone
  }
  const mapped = mappedExecutables(pid);
  if (mapped === 'denied') return mapped;
  for (const file of mapped) {
    const runtime = runtimes.find((r) => r.matches(file));
    if (runtime) out.push({ runtime, at: `/proc/${pid}/root${file}`, file });
  }
  const byExe = runtimes.filter((r) => r.executable);
  if (byExe.length) {
    let file = '';
    try {
      file = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return out; // a kernel thread, or gone
    }
    for (const runtime of byExe) out.push({ runtime, at: `/proc/${pid}/exe`, file });
  }
  return out;
}

export function runningPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** `dev:ino` of a regular file (one uprobe target however many paths lead to it), else undefined. */
export function fileIdentity(at: string): string | undefined {
  try {
    const st = fs.statSync(at, { bigint: true });
    return st.isFile() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined; // gone meanwhile
  }
}

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    return file;
  }
}
