// Child processes of the harness: spawned in their own process group, pinned with taskset,
// registered so that every exit path (normal, error, SIGINT/SIGTERM) kills them by pid.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { procStatTicks, procStatusMem, smapsRollupPssKiB } from './parse';

const live = new Set<ChildProcess>();
const cleanups: Array<() => void> = [];

export interface Proc {
  child: ChildProcess;
  pid: number;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

/** Spawns `cmd args` pinned to `cpus` (taskset -c; taskset execs, so the pid is the program's). */
export function start(cmd: string, args: string[], opts: { cpus?: string; cwd?: string; env?: NodeJS.ProcessEnv; stdin?: boolean } = {}): Proc {
  const argv = opts.cpus ? ['taskset', '-c', opts.cpus, cmd, ...args] : [cmd, ...args];
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true, // own process group: killed as a group on cleanup
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    if (out.length < 4 << 20) out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    if (err.length < 4 << 20) err += d.toString();
  });
  live.add(child);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, sig) => {
      live.delete(child);
      resolve(code ?? (sig ? 128 : null));
    });
    child.on('error', () => {
      live.delete(child);
      resolve(127);
    });
  });
  return { child, pid: child.pid ?? -1, out: () => out, err: () => err, exited };
}

/** Runs to completion, returns stdout+stderr and the exit code. */
export async function runToEnd(
  cmd: string,
  args: string[],
  opts: { cpus?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const p = start(cmd, args, opts);
  const timer = opts.timeoutMs ? setTimeout(() => killGroup(p.child, 'SIGKILL'), opts.timeoutMs) : undefined;
  const code = await p.exited;
  if (timer) clearTimeout(timer);
  await new Promise((r) => setImmediate(r)); // let the last pipe data arrive
  return { code, out: p.out(), err: p.err() };
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  }
}

/** Sends `sig`, waits up to `graceMs`, then SIGKILLs the group. */
export async function stop(p: Proc, sig: NodeJS.Signals = 'SIGTERM', graceMs = 15000): Promise<number | null> {
  if (p.child.exitCode === null && p.child.signalCode === null) {
    try {
      process.kill(p.pid, sig); // the program itself first (taskset has exec'd into it)
    } catch {
      /* gone */
    }
  }
  const t = setTimeout(() => killGroup(p.child, 'SIGKILL'), graceMs);
  const code = await p.exited;
  clearTimeout(t);
  await new Promise((r) => setImmediate(r));
  return code;
}

export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

/** Kills every child still running (their process groups) and runs the cleanup hooks. Idempotent. */
export function cleanupAll(): void {
  for (const c of [...live]) killGroup(c, 'SIGKILL');
  live.clear();
  while (cleanups.length) {
    try {
      cleanups.pop()!();
    } catch {
      /* best effort */
    }
  }
}

export function installExitHandlers(): void {
  process.on('exit', cleanupAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}: cleaning up\n`);
      cleanupAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (e) => {
    process.stderr.write(`bench: ${e.stack ?? e}\n`);
    cleanupAll();
    process.exit(1);
  });
}

/** Waits until `pred()` holds (polling), or throws after `timeoutMs`. */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 20000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port on 127.0.0.1 nobody listens on (other test suites run on this machine too). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port found');
}

export async function waitPort(port: number, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} never opened`);
    await sleep(50);
  }
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

/** CPU time of a process in ns: sum of its live threads' schedstat (ns), or stat ticks if unreadable. */
export function cpuNs(pid: number): number {
  try {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread exited */
      }
    }
    return ns;
  } catch {
    return NaN;
  }
}

/** utime+stime in ns (tick resolution; includes exited threads). */
export function statCpuNs(pid: number): number {
  try {
    return (procStatTicks(fs.readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1e9) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export function memKiB(pid: number): { hwmKiB: number; rssKiB: number } {
  try {
    return procStatusMem(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return { hwmKiB: NaN, rssKiB: NaN };
  }
}

/** Proportional set size (see smapsRollupPssKiB), NaN when unreadable. */
export function pssKiB(pid: number): number {
  try {
    return smapsRollupPssKiB(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  } catch {
    return NaN;
  }
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}
