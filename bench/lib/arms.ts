// The arms of a run: what traces the server while the load runs.
//   baseline   nothing
//   tcpsniff   the collector: the default pipeline's processors (config/default.yaml's, read at each
//              start), the tcp receiver filtered to the server's port, a file exporter (for completeness checks)
//   tcpdump    tcpdump -i lo -s 0 -w FILE 'tcp port P' (full packets to a file)
//   compare    the tcpsniff arm run from another build (run.ts --compare DIR): A/B within one run
//   bpftrace   a DIY syscall tracer: enter+exit of the same read/write/send/recv syscalls,
//              filtered on the server's pid, counting calls, bytes and a latency histogram

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromRoot } from '../../src/core/paths';
import { bpfProgFdinfo, parseCollectorSummary, parseTcpdumpStats, type CollectorSummary } from './parse';
import { memKiB, pssKiB, start, statCpuNs, stop, waitFor, type Proc } from './procs';
import { parse as parseYaml, stringify as toYaml } from 'yaml';

export type ArmName = 'baseline' | 'tcpsniff' | 'compare' | 'tcpdump' | 'bpftrace';
export const ALL_ARMS: ArmName[] = ['baseline', 'tcpsniff', 'tcpdump', 'bpftrace'];

export interface ArmContext {
  port: number;
  serverPid: number;
  tmp: string;
  /** CPUs for the tracer's user-space process. */
  cpus: string;
  /** Write a V8 CPU profile of the collector into this directory. */
  cpuProfDir?: string;
  /** Package root of the collector to run (default: this one), e.g. a copy of another build. */
  collectorRoot?: string;
  /** Package root the compare arm runs. */
  compareRoot?: string;
  /** TLS libraries the collector's TLS capture must hook besides what it finds (`library_paths`). */
  tlsLibraries?: string[];
}

export interface ArmStopResult {
  summary?: CollectorSummary | null;
  spansFile?: string;
  tcpdump?: { captured: number; received: number; dropped: number; fileBytes: number };
  bpftrace?: { calls: number; bytes: number };
  stderrTail?: string;
}

export interface RunningArm {
  name: ArmName;
  /** The tracer's user-space process (none for the baseline). */
  pid?: number;
  cpuNs(): number;
  hwmKiB(): number;
  /** Peak PSS (KiB) of the samples taken every PSS_SAMPLE_MS since the start, and the RSS at that sample. */
  pssPeak(): { pssKiB: number; rssKiB: number };
  stop(): Promise<ArmStopResult>;
}

const SYSCALLS = ['write', 'writev', 'sendto', 'sendmsg', 'read', 'readv', 'recvfrom', 'recvmsg'];

export function bpftraceScript(pid: number): string {
  const enter = SYSCALLS.map((s) => `tracepoint:syscalls:sys_enter_${s}`).join(',\n');
  const exit = SYSCALLS.map((s) => `tracepoint:syscalls:sys_exit_${s}`).join(',\n');
  return `// DIY tracer used as a benchmark arm: same syscalls as the collector's syscall backend.
${enter}
/pid == ${pid}/
{
  @start[tid] = nsecs;
}
${exit}
/@start[tid]/
{
  @calls[probe] = count();
  if (args->ret > 0) { @bytes[probe] = sum(args->ret); }
  @latency_ns = hist(nsecs - @start[tid]);
  delete(@start[tid]);
}
END { clear(@start); }
`;
}

/** PSS has no kernel-kept peak (VmHWM is RSS's): it is sampled this often while the arm runs. */
const PSS_SAMPLE_MS = 500;

/**
 * The tcpsniff arm's config: config/default.yaml's processors in its pipeline's order (so the bench
 * measures what a default install runs), the tcp receiver filtered to the benchmark port, spans to a
 * file instead of the console.
 */
export function collectorConfig(port: number, spansFile: string, tlsLibraries?: string[], defaults = fromRoot('config', 'default.yaml')): string {
  const d = parseYaml(fs.readFileSync(defaults, 'utf8')) as {
    processors: Record<string, unknown>;
    service: { pipelines: { traces: { processors: string[] } } };
  };
  const order = d.service.pipelines.traces.processors;
  const cfg = {
    // TLS capture hooks what it finds; the bench's private libssl copy is named so that only this arm hooks it.
    receivers: { tcp: tlsLibraries?.length ? { ports: [port], tls: { library_paths: tlsLibraries } } : { ports: [port] }, sendfile: null },
    processors: Object.fromEntries(order.map((p) => [p, d.processors[p] ?? null])),
    exporters: { file: { path: spansFile } },
    service: { pipelines: { traces: { receivers: ['tcp', 'sendfile'], processors: order, exporters: ['file'] } } },
  };
  return `# written by bench/: config/default.yaml's processors, a file exporter, filtered to the benchmark port\n${toYaml(cfg)}`;
}

export async function startArm(name: ArmName, ctx: ArmContext): Promise<RunningArm> {
  if (name === 'baseline') {
    return { name, cpuNs: () => 0, hwmKiB: () => NaN, pssPeak: () => ({ pssKiB: NaN, rssKiB: NaN }), stop: async () => ({}) };
  }
  let p!: Proc;
  let after: () => Promise<ArmStopResult>;
  if (name === 'compare') {
    if (!ctx.compareRoot) throw new Error('the compare arm needs --compare DIR');
    return { ...(await startArm('tcpsniff', { ...ctx, collectorRoot: ctx.compareRoot })), name };
  }
  if (name === 'tcpsniff') {
    const spansFile = path.join(ctx.tmp, `spans-${Date.now()}.jsonl`);
    const cfg = path.join(ctx.tmp, 'collector.yaml');
    fs.writeFileSync(cfg, collectorConfig(ctx.port, spansFile, ctx.tlsLibraries));
    // Profiling starts only after attach (see cpuprof-preload.ts).
    const env = ctx.cpuProfDir
      ? {
          ...process.env,
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${path.join(__dirname, 'cpuprof-preload.js')}`,
          TCPSNIFF_BENCH_CPUPROF: path.join(ctx.cpuProfDir, 'collector.cpuprofile'),
        }
      : process.env;
    // Loading can fail transiently with EAGAIN while other suites load programs: retry.
    for (let attempt = 1; ; attempt++) {
      // Executed as users run it (its launcher execs Node with the daemon's V8 flags, keeping the pid).
      p = start(path.join(ctx.collectorRoot ?? fromRoot(), 'bin', 'tcpsniff-collector'), ['--config', cfg], {
        cpus: ctx.cpus,
        env,
      });
      const q = p;
      await waitFor('the collector to be ready', () => /\bready\b/.test(q.err()) || q.child.exitCode !== null, 30000);
      if (p.child.exitCode === null) break;
      if (attempt >= 3 || !/errno 11\b/.test(p.err())) throw new Error(`the collector exited: ${p.err().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
    if (ctx.cpuProfDir) process.kill(p.pid, 'SIGUSR2');
    after = async () => ({ summary: parseCollectorSummary(p.err()), spansFile, stderrTail: p.err().slice(-1500) });
  } else if (name === 'tcpdump') {
    const file = path.join(ctx.tmp, `capture-${Date.now()}.pcap`);
    p = start('tcpdump', ['-i', 'lo', '-s', '0', '-B', '65536', '-n', '-w', file, `tcp port ${ctx.port}`], { cpus: ctx.cpus });
    await waitFor('tcpdump to listen', () => /listening on/.test(p.err()) || p.child.exitCode !== null, 15000);
    if (p.child.exitCode !== null) throw new Error(`tcpdump exited: ${p.err()}`);
    after = async () => {
      let fileBytes = NaN;
      try {
        fileBytes = fs.statSync(file).size;
        fs.rmSync(file);
      } catch {
        /* none */
      }
      return { tcpdump: { ...parseTcpdumpStats(p.err()), fileBytes } };
    };
  } else {
    const script = path.join(ctx.tmp, 'arm.bt');
    fs.writeFileSync(script, bpftraceScript(ctx.serverPid));
    p = start('bpftrace', [script], { cpus: ctx.cpus, env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: '4096' } });
    await waitFor('bpftrace to attach', () => /Attaching \d+ probe/.test(p.out()) || p.child.exitCode !== null, 60000);
    if (p.child.exitCode !== null) throw new Error(`bpftrace exited: ${p.err()}`);
    await new Promise((r) => setTimeout(r, 500)); // "Attaching" is printed before the last attach
    after = async () => {
      let calls = 0;
      let bytes = 0;
      for (const m of p.out().matchAll(/^@calls\[[^\]]+\]: (\d+)/gm)) calls += Number(m[1]);
      for (const m of p.out().matchAll(/^@bytes\[[^\]]+\]: (\d+)/gm)) bytes += Number(m[1]);
      return { bpftrace: { calls, bytes } };
    };
  }
  let hwm = NaN;
  const peak = { pssKiB: NaN, rssKiB: NaN };
  const samplePss = () => {
    const pss = pssKiB(p.pid);
    if (Number.isFinite(pss) && !(pss <= peak.pssKiB)) Object.assign(peak, { pssKiB: pss, rssKiB: memKiB(p.pid).rssKiB });
  };
  samplePss();
  const sampler = setInterval(samplePss, PSS_SAMPLE_MS);
  const arm: RunningArm = {
    name,
    pid: p.pid,
    cpuNs: () => statCpuNs(p.pid),
    hwmKiB: () => {
      const m = memKiB(p.pid).hwmKiB;
      if (Number.isFinite(m)) hwm = m;
      return hwm;
    },
    pssPeak: () => (samplePss(), { ...peak }),
    async stop() {
      arm.hwmKiB();
      arm.pssPeak();
      clearInterval(sampler);
      await stop(p, name === 'tcpsniff' ? 'SIGTERM' : 'SIGINT', 30000);
      return after();
    },
  };
  return arm;
}

/** Run time of the BPF programs a process holds (needs kernel.bpf_stats_enabled=1). */
export function bpfProgStats(pid: number): Map<number, { runTimeNs: number; runCnt: number }> {
  const out = new Map<number, { runTimeNs: number; runCnt: number }>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const s = bpfProgFdinfo(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (s && !out.has(s.id)) out.set(s.id, { runTimeNs: s.runTimeNs, runCnt: s.runCnt });
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Names of loaded BPF programs by id (from bpftool): ask while the programs are still loaded. */
export function bpfProgNames(ids: Iterable<number>): Map<number, string> {
  const want = new Set(ids);
  const names = new Map<number, string>();
  const r = spawnSync('bpftool', ['-j', 'prog', 'show']);
  try {
    for (const p of JSON.parse(r.stdout.toString()) as { id: number; name?: string }[]) if (want.has(p.id)) names.set(p.id, p.name ?? String(p.id));
  } catch {
    /* no names */
  }
  return names;
}

export interface BpfProgCost {
  name: string;
  runCnt: number;
  avgNs: number;
  totalNsPerReq: number;
}

/** Per-program cost between two bpfProgStats snapshots: ns per run and per request, costliest first. */
export function bpfProgCosts(
  before: ReturnType<typeof bpfProgStats>,
  after: ReturnType<typeof bpfProgStats>,
  names: Map<number, string>,
  requests: number,
): BpfProgCost[] {
  const out: BpfProgCost[] = [];
  for (const [id, a] of after) {
    const b = before.get(id) ?? { runTimeNs: 0, runCnt: 0 };
    const runTimeNs = a.runTimeNs - b.runTimeNs;
    const runCnt = a.runCnt - b.runCnt;
    if (runCnt > 0) out.push({ name: names.get(id) ?? `prog ${id}`, runCnt, avgNs: runTimeNs / runCnt, totalNsPerReq: runTimeNs / requests });
  }
  return out.sort((x, y) => y.totalNsPerReq - x.totalNsPerReq);
}

/** Runs fn with kernel.bpf_stats_enabled=1 (stats add a little cost to every program run) and
 * restores the previous value afterwards. Throws when the sysctl cannot be set. */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const sysctl = '/proc/sys/kernel/bpf_stats_enabled';
  const prev = fs.readFileSync(sysctl, 'utf8').trim();
  fs.writeFileSync(sysctl, '1');
  try {
    return await fn();
  } finally {
    fs.writeFileSync(sysctl, prev);
  }
}
