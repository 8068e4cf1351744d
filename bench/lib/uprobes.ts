// Uprobes and what they cost.
//
// The kernel's fixed cost of a uprobe hit, which the BPF statistics do not show (they time the
// program only, not the breakpoint trap, the single step of the displaced instruction or the
// return trampoline): a tiny function called in a loop (bench/fixtures/uprobe-loop.c), its CPU
// time per call untraced, with an entry uprobe, and with an entry uprobe and a uretprobe, each
// probe running bpftrace's smallest program (a count). Rounds interleave the three.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromRoot } from '../../src/core/paths';
import { percentile } from './parse';
import { runToEnd, start, stop, waitFor } from './procs';

/**
 * Processes other than `own` holding uprobes on a file `serverPid` maps, as "PID (comm)": on a
 * shared machine, another collector's TLS capture hooks the same libssl, and every one of its
 * breakpoints costs the traced server too, whatever that collector filters on.
 */
export function foreignUprobes(serverPid: number, own: ReadonlySet<number>): string[] {
  const r = spawnSync('bpftool', ['-j', 'perf'], { encoding: 'utf8', timeout: 10_000 });
  let events: { pid: number; fd_type?: string; filename?: string }[];
  try {
    events = JSON.parse(r.stdout);
  } catch {
    return [];
  }
  const mapped = new Set<string>();
  try {
    for (const line of fs.readFileSync(`/proc/${serverPid}/maps`, 'latin1').split('\n')) {
      const file = /\s(\/\S.*)$/.exec(line)?.[1];
      const id = file && identity(file);
      if (id) mapped.add(id);
    }
  } catch {
    return []; // the server is gone
  }
  const pids = new Set<number>();
  for (const e of events) {
    if (!/^uret?probe$/.test(e.fd_type ?? '') || own.has(e.pid) || !e.filename) continue;
    const id = identity(e.filename);
    if (id && mapped.has(id)) pids.add(e.pid);
  }
  return [...pids].map((pid) => `${pid} (${comm(pid)})`);
}

function identity(file: string): string | undefined {
  try {
    const st = fs.statSync(file, { bigint: true });
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

const FUNCS = ['p_sub', 'p_push'] as const;
type Func = (typeof FUNCS)[number];
type Probes = 'none' | 'entry' | 'entry+return';

export interface UprobeTrap {
  calls: number;
  rounds: number;
  /** Median CPU ns per call, by probe set and by the probed function's first instruction. */
  nsPerCall: Record<Probes, Record<Func, number>>;
}

function build(tmp: string): string {
  const bin = path.join(tmp, 'uprobe-loop');
  const r = spawnSync('cc', ['-O2', '-o', bin, fromRoot('bench', 'fixtures', 'uprobe-loop.c')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc uprobe-loop.c failed: ${r.stderr}`);
  return bin;
}

async function callCost(bin: string, func: Func, calls: number, cpus: string): Promise<number> {
  const r = await runToEnd(bin, [func, String(calls)], { cpus, timeoutMs: 120_000 });
  const m = /^([\d.]+) ns\/call/.exec(r.out);
  if (!m) throw new Error(`uprobe-loop failed (${r.code}): ${r.out}${r.err}`);
  return Number(m[1]);
}

async function withProbes<T>(bin: string, probes: Probes, cpus: string, fn: () => Promise<T>): Promise<T> {
  if (probes === 'none') return fn();
  const points = FUNCS.flatMap((f) => [`uprobe:${bin}:${f}`, ...(probes === 'entry+return' ? [`uretprobe:${bin}:${f}`] : [])]);
  const bt = start('bpftrace', ['-e', `${points.join(',')} { @calls = count(); }`]);
  try {
    await waitFor('bpftrace to attach', () => /Attaching \d+ probe/.test(bt.out()) || bt.child.exitCode !== null, 60_000);
    if (bt.child.exitCode !== null) throw new Error(`bpftrace exited: ${bt.err()}`);
    // "Attaching" is printed before the probes are: wait until calls are slow (probed), then a little more.
    for (const f of FUNCS) await waitForAsync(`bpftrace's uprobe on ${f}`, async () => (await callCost(bin, f, 200, cpus)) > 100, 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    return await fn();
  } finally {
    await stop(bt, 'SIGINT', 10_000);
  }
}

async function waitForAsync(what: string, pred: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs on `cpus` (the traced server's CPU in the benchmark). */
export async function measureUprobeTrap(tmp: string, cpus: string, rounds = 3, calls = 50_000): Promise<UprobeTrap> {
  const bin = build(tmp);
  const samples = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const probes of ['none', 'entry', 'entry+return'] as Probes[]) {
      await withProbes(bin, probes, cpus, async () => {
        for (const f of FUNCS) {
          const key = `${probes}/${f}`;
          samples.set(key, [...(samples.get(key) ?? []), await callCost(bin, f, calls, cpus)]);
        }
      });
    }
  }
  const med = (probes: Probes) => Object.fromEntries(FUNCS.map((f) => [f, percentile(samples.get(`${probes}/${f}`)!, 50)])) as Record<Func, number>;
  return { calls, rounds, nsPerCall: { none: med('none'), entry: med('entry'), 'entry+return': med('entry+return') } };
}
