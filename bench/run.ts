// npm run bench [-- --quick] [-- --rounds N --duration S --only ID,ID --arms a,b --no-micro --no-install --out FILE.md --compare DIR]
//
// Benchmarks of tcpsniff-collector side by side with a baseline (no tracer) and the tools users
// would pick instead (tcpdump -w, a bpftrace syscall tracer), on loopback loads, interleaved
// (warm-up, then A B C D, A B C D, …). Writes BENCHMARKS.md and bench/results/latest.json.
// See BENCHMARKS.md for what every figure means.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fromRoot } from '../src/core/paths';
import { ALL_ARMS, bpfProgCosts, bpfProgNames, bpfProgStats, startArm, withBpfStats, type ArmName, type ArmStopResult, type BpfProgCost } from './lib/arms';
import { missingMarkers, newMarkerScan, parseLoadavg, percentile, scanMarkers, topSelfTime, type MarkerScan, type ProfileEntry } from './lib/parse';
import { cleanupAll, cpuNs, freePort, have, installExitHandlers, runToEnd, sleep } from './lib/procs';
import { SIZES, runGhz, runH2load, runWrk, startGrpcServer, startNginx, startNodeServer, type Server } from './lib/servers';
import { foreignUprobes, measureUprobeTrap, type UprobeTrap } from './lib/uprobes';
import { writeReport } from './report';

// ---- placement: 2 cores. The traced server alone on CPU 1; load generator and tracer on CPU 0.
export const PLACEMENT = { server: '1', load: '0', tracer: '0' };

export interface Workload {
  id: string;
  title: string;
  server: 'nginx' | 'node' | 'grpc';
  size: string;
  /** wrk closed loop (HTTP/1.1), h2load fixed rate (HTTP/1.1), h2load closed loop (HTTP/2 h2c), ghz (gRPC unary). */
  load: 'wrk' | 'h1-fixed' | 'h2' | 'ghz';
  close?: boolean;
  /** HTTPS: the server's OpenSSL, traced by the collector's TLS capture (uprobes, on by default). */
  tls?: boolean;
  connections: number;
  /** ghz: calls in flight over all connections. */
  concurrency?: number;
  rate?: number;
}

export function workloads(quick: boolean): Workload[] {
  const w: Workload[] = [
    { id: 'nginx-1k', title: 'nginx, 1 KiB, HTTP/1.1 keep-alive, closed loop (wrk -c32)', server: 'nginx', size: '1k', load: 'wrk', connections: 32 },
    {
      id: 'nginx-1k-15k',
      title: 'nginx, 1 KiB, HTTP/1.1 keep-alive, fixed 15,000 req/s (h2load --h1 --rps, 20 connections): issue 17’s method',
      server: 'nginx',
      size: '1k',
      load: 'h1-fixed',
      connections: 20,
      rate: 15000,
    },
    {
      id: 'nginx-1k-20k',
      title: 'nginx, 1 KiB, HTTP/1.1 keep-alive, fixed 20,000 req/s (h2load --h1 --rps, 20 connections)',
      server: 'nginx',
      size: '1k',
      load: 'h1-fixed',
      connections: 20,
      rate: 20000,
    },
  ];
  if (quick) return w;
  return [
    ...w,
    { id: 'nginx-0', title: 'nginx, 0 B, HTTP/1.1 keep-alive, closed loop', server: 'nginx', size: '0', load: 'wrk', connections: 32 },
    { id: 'nginx-16k', title: 'nginx, 16 KiB, HTTP/1.1 keep-alive, closed loop', server: 'nginx', size: '16k', load: 'wrk', connections: 32 },
    { id: 'nginx-256k', title: 'nginx, 256 KiB, HTTP/1.1 keep-alive, closed loop', server: 'nginx', size: '256k', load: 'wrk', connections: 32 },
    { id: 'nginx-1k-close', title: 'nginx, 1 KiB, Connection: close, closed loop', server: 'nginx', size: '1k', load: 'wrk', connections: 32, close: true },
    { id: 'node-1k', title: 'Node http server, 1 KiB, HTTP/1.1 keep-alive, closed loop', server: 'node', size: '1k', load: 'wrk', connections: 32 },
    { id: 'node-16k', title: 'Node http server, 16 KiB, HTTP/1.1 keep-alive, closed loop', server: 'node', size: '16k', load: 'wrk', connections: 32 },
    {
      id: 'nginx-1k-c10k',
      title: 'nginx, 1 KiB, HTTP/1.1 keep-alive, 10,000 open connections, closed loop (wrk -c10000)',
      server: 'nginx',
      size: '1k',
      load: 'wrk',
      connections: 10000,
    },
    {
      id: 'nginx-https-1k',
      title:
        'nginx, 1 KiB over HTTPS (TLS 1.3, self-signed P-256), HTTP/1.1 keep-alive, closed loop (wrk -c32); the collector captures the plaintext from uprobes',
      server: 'nginx',
      size: '1k',
      load: 'wrk',
      connections: 32,
      tls: true,
    },
    { id: 'nginx-h2-1k', title: 'nginx h2c, 1 KiB, HTTP/2 closed loop (h2load -c8 -m16)', server: 'nginx', size: '1k', load: 'h2', connections: 8 },
    {
      id: 'grpc-1k',
      title: 'grpc-js server, 1 KiB unary calls, closed loop (ghz, 4 connections, 32 in flight)',
      server: 'grpc',
      size: '1k',
      load: 'ghz',
      connections: 4,
      concurrency: 32,
    },
    {
      id: 'grpc-1k-3k',
      title: 'grpc-js server, 1 KiB unary calls, fixed 3,000 calls/s (ghz --rps, 4 connections)',
      server: 'grpc',
      size: '1k',
      load: 'ghz',
      connections: 4,
      concurrency: 32,
      rate: 3000,
    },
  ];
}

export interface Cell {
  workload: string;
  arm: ArmName;
  round: number;
  loadavg: [number, number, number];
  requests: number;
  rps: number;
  p50Us: number;
  p99Us: number;
  serverCpuUsPerReq: number;
  tracerCpuMsPer1k: number;
  tracerHwmMiB: number;
  /** The tracer's peak PSS over the run (sampled), and its RSS at that sample. */
  tracerPssMiB?: number;
  tracerRssAtPssMiB?: number;
  completeness?: {
    expected: number;
    serverSpans: number;
    clientSpans: number;
    serverMissing?: number;
    clientMissing?: number;
    inFlightAllowance: number;
    duplicates: number;
  };
  collector?: { records: number; exchanges: number; spansExported: number; dropsTotal: number; drops: Record<string, number> };
  tcpdump?: ArmStopResult['tcpdump'];
  bpftrace?: ArmStopResult['bpftrace'];
  /** HTTPS workloads: other processes holding uprobes on the server's libraries during the run
   * (their breakpoints cost the server too): the cell is left out of the figures. */
  foreignUprobes?: string[];
  errors?: string;
}

interface Options {
  quick: boolean;
  rounds: number;
  durationS: number;
  only?: string[];
  arms: ArmName[];
  micro: boolean;
  install: boolean;
  profile: boolean;
  bpfStats: boolean;
  /** Report file (default BENCHMARKS.md); the JSON goes next to it as <name>.json when not the default. */
  out?: string;
  /** Package root of another build for the compare arm (A/B within one run). */
  compare?: string;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const val = (k: string) => {
    const i = argv.indexOf(k);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const compare = val('--compare');
  const arms = (val('--arms')?.split(',') as ArmName[] | undefined) ?? ALL_ARMS.filter((a) => a !== 'compare');
  // The compare arm right after tcpsniff, so the two alternate within every round.
  if (compare && !arms.includes('compare')) arms.splice(arms.indexOf('tcpsniff') + 1, 0, 'compare');
  return {
    quick,
    rounds: Number(val('--rounds') ?? 3),
    durationS: Number(val('--duration') ?? (quick ? 5 : 10)),
    only: val('--only')?.split(','),
    arms,
    micro: !argv.includes('--no-micro'),
    install: !argv.includes('--no-install'),
    profile: !argv.includes('--no-profile'),
    bpfStats: !argv.includes('--no-bpf-stats'),
    out: val('--out'),
    compare: compare && path.resolve(compare),
  };
}

const log = (s: string) => process.stderr.write(`bench: ${s}\n`);

function ensureTools(install: boolean): void {
  const need: Record<string, string> = {
    wrk: 'wrk',
    h2load: 'nghttp2-client',
    tcpdump: 'tcpdump',
    bpftrace: 'bpftrace',
    nginx: 'nginx-light',
    taskset: 'util-linux',
    bpftool: 'bpftool',
  };
  const missing = Object.entries(need).filter(([cmd]) => !have(cmd));
  if (missing.length === 0) {
    log(`tools present: ${Object.keys(need).join(', ')}`);
    return;
  }
  const pkgs = [...new Set(missing.map(([, p]) => p))];
  if (!install) throw new Error(`missing tools: ${missing.map(([c]) => c).join(', ')} (apt-get install ${pkgs.join(' ')})`);
  log(`installing ${pkgs.join(' ')} (apt-get) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error('apt-get update failed');
  r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed`);
  const still = missing.filter(([c]) => !have(c));
  if (still.length) throw new Error(`still missing after install: ${still.map(([c]) => c).join(', ')}`);
}

async function startServer(w: Workload, tmp: string): Promise<Server> {
  const port = await freePort();
  if (w.server === 'grpc') return startGrpcServer(port, PLACEMENT.server);
  return w.server === 'nginx' ? startNginx(tmp, port, PLACEMENT.server, w.tls) : startNodeServer(port, PLACEMENT.server);
}

/** ghz, built from the Go module proxy on first use (scripts/build-ghz.sh). */
let ghzPath: string | undefined;
function ghz(): string {
  if (ghzPath) return ghzPath;
  const r = spawnSync('bash', [fromRoot('scripts', 'build-ghz.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = r.stdout.toString().trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !fs.existsSync(bin)) throw new Error('cannot build ghz (scripts/build-ghz.sh): the gRPC workloads need it');
  return (ghzPath = bin);
}

async function scanSpans(file: string): Promise<MarkerScan> {
  const scan = newMarkerScan();
  if (!fs.existsSync(file)) return scan;
  const rl = readline.createInterface({ input: fs.createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity });
  for await (const line of rl) scanMarkers(line, scan);
  fs.rmSync(file, { force: true });
  return scan;
}

/** Waits until the tracer's CPU stops increasing (it has caught up with the load). */
async function settle(cpu: () => number, maxMs = 8000): Promise<void> {
  let last = cpu();
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    await sleep(300);
    const now = cpu();
    if (!(now - last > 3e6)) return; // < 3 ms of CPU in 300 ms: idle
    last = now;
  }
}

interface CellOptions {
  durationS: number;
  compareRoot?: string;
  cpuProfDir?: string;
  bpfStats?: boolean;
}

async function runCell(w: Workload, server: Server, arm: ArmName, round: number, tmp: string, o: CellOptions): Promise<Cell & { bpf?: BpfProgCost[] }> {
  const loadavg = parseLoadavg(fs.readFileSync('/proc/loadavg', 'utf8'));
  const tracer = await startArm(arm, {
    port: w.load === 'h2' ? server.port + 1 : server.port,
    serverPid: server.pid,
    tmp,
    cpus: PLACEMENT.tracer,
    cpuProfDir: o.cpuProfDir,
    compareRoot: o.compareRoot,
    tlsLibraries: server.tls ? [server.tls.library] : undefined,
  });
  const bpfBefore = o.bpfStats && tracer.pid ? bpfProgStats(tracer.pid) : undefined;
  const foreign = new Set<string>();
  const lookForUprobes = () => {
    if (w.tls) for (const p of foreignUprobes(server.pid, new Set(tracer.pid ? [tracer.pid] : []))) foreign.add(p);
  };
  lookForUprobes();
  const uprobeWatch = setInterval(lookForUprobes, 2000);
  await sleep(200);
  const s0 = cpuNs(server.pid);
  const t0 = tracer.cpuNs();
  let requests = NaN;
  let rps = NaN;
  let p50 = NaN;
  let p99 = NaN;
  let expected = NaN;
  let issued: Map<number, number> | undefined;
  let allowance = 0;
  const path = server.pathFor(w.size);
  if (w.load === 'wrk') {
    const r = await runWrk({
      port: server.port,
      path,
      connections: w.connections,
      durationS: o.durationS,
      close: w.close,
      tls: w.tls,
      env: server.tls?.env,
      tmp,
      cpus: PLACEMENT.load,
    });
    requests = r.requests;
    rps = r.rps;
    p50 = r.latencyUs['p50'] ?? NaN;
    p99 = r.latencyUs['p99'] ?? NaN;
    issued = r.issued;
    expected = [...r.issued.values()].reduce((a, b) => a + b, 0);
    allowance = w.connections;
  } else if (w.load === 'ghz') {
    const r = await runGhz({
      ghz: ghz(),
      port: server.port,
      bytes: SIZES[w.size] ?? 0,
      concurrency: w.concurrency ?? 32,
      connections: w.connections,
      rate: w.rate,
      durationS: o.durationS,
      tmp,
      cpus: PLACEMENT.load,
    });
    requests = r.ok;
    rps = r.rps;
    p50 = r.latencyUs['p50'] ?? NaN;
    p99 = r.latencyUs['p99'] ?? NaN;
    expected = r.ok;
    allowance = w.concurrency ?? 32; // -z cancels the calls in flight at the end
  } else {
    const r = await runH2load({
      port: w.load === 'h2' ? server.port + 1 : server.port,
      path,
      h1: w.load === 'h1-fixed',
      clients: w.connections,
      streams: w.load === 'h2' ? 16 : 1,
      rate: w.rate,
      requests: w.rate ? w.rate * o.durationS : undefined,
      durationS: o.durationS,
      tmp,
      cpus: PLACEMENT.load,
    });
    requests = r.done;
    rps = r.rps;
    p50 = percentile(r.latenciesUs, 50);
    p99 = percentile(r.latenciesUs, 99);
    expected = r.done;
    allowance = w.rate ? 0 : w.connections * 16; // -D stops with streams in flight
  }
  const s1 = cpuNs(server.pid);
  clearInterval(uprobeWatch);
  lookForUprobes();
  await settle(() => tracer.cpuNs());
  const t1 = tracer.cpuNs();
  const hwm = tracer.hwmKiB();
  const pss = tracer.pssPeak();
  const bpfAfter = o.bpfStats && tracer.pid ? bpfProgStats(tracer.pid) : undefined;
  const bpfNames = bpfAfter ? bpfProgNames(bpfAfter.keys()) : undefined;
  const res = await tracer.stop();
  const cell: Cell & { bpf?: BpfProgCost[] } = {
    workload: w.id,
    arm,
    round,
    loadavg,
    requests,
    rps,
    p50Us: p50,
    p99Us: p99,
    serverCpuUsPerReq: (s1 - s0) / 1000 / requests,
    tracerCpuMsPer1k: arm === 'baseline' ? NaN : ((t1 - t0) / 1e6 / requests) * 1000,
    tracerHwmMiB: hwm / 1024,
    tracerPssMiB: pss.pssKiB / 1024,
    tracerRssAtPssMiB: pss.rssKiB / 1024,
  };
  if (foreign.size) cell.foreignUprobes = [...foreign];
  if (bpfBefore && bpfAfter) cell.bpf = bpfProgCosts(bpfBefore, bpfAfter, bpfNames!, requests);
  if (res.summary) cell.collector = res.summary;
  else if (arm === 'tcpsniff' || arm === 'compare') cell.errors = `no summary from the collector: ${res.stderrTail ?? ''}`;
  if (res.tcpdump) cell.tcpdump = res.tcpdump;
  if (res.bpftrace) cell.bpftrace = res.bpftrace;
  if (res.spansFile) {
    const scan = await scanSpans(res.spansFile);
    const c: NonNullable<Cell['completeness']> = {
      expected,
      serverSpans: scan.byKind[2] ?? 0,
      clientSpans: scan.byKind[3] ?? 0,
      inFlightAllowance: allowance,
      duplicates: scan.duplicates,
    };
    if (issued) {
      c.serverMissing = missingMarkers(scan, 2, issued).missing;
      c.clientMissing = missingMarkers(scan, 3, issued).missing;
    }
    cell.completeness = c;
  }
  return cell;
}

function fmtCell(c: Cell): string {
  const parts = [`${c.workload} ${c.arm.padEnd(8)} r${c.round}`, `${Math.round(c.rps)} req/s`, `srv ${c.serverCpuUsPerReq.toFixed(2)} µs/req`];
  if (Number.isFinite(c.p99Us)) parts.push(`p50 ${c.p50Us.toFixed(0)} µs p99 ${c.p99Us.toFixed(0)} µs`);
  if (Number.isFinite(c.tracerCpuMsPer1k))
    parts.push(`tracer ${c.tracerCpuMsPer1k.toFixed(2)} ms/1k, peak RSS ${c.tracerHwmMiB.toFixed(0)} MiB, peak PSS ${(c.tracerPssMiB ?? NaN).toFixed(0)} MiB`);
  if (c.completeness) {
    const k = c.completeness;
    parts.push(`spans srv ${k.serverSpans}/${k.expected}${k.serverMissing !== undefined ? ` (missing ${k.serverMissing})` : ''} cli ${k.clientSpans}`);
  }
  if (c.collector) {
    const nz = Object.entries(c.collector.drops).filter(([, v]) => v > 0);
    parts.push(`drops: ${nz.length ? nz.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`);
  }
  if (c.tcpdump) parts.push(`pcap ${c.tcpdump.captured} pkts, dropped ${c.tcpdump.dropped}`);
  if (c.foreignUprobes) parts.push(`LEFT OUT: uprobes of ${c.foreignUprobes.join(', ')} on the server's libraries`);
  parts.push(`load ${c.loadavg[0]}`);
  return parts.join(' | ');
}

export interface BpfStatRow {
  workload: string;
  arm: ArmName;
  requests: number;
  programs: BpfProgCost[];
}

/** One run with kernel.bpf_stats_enabled=1; throws (the caller logs) when the stats cannot be had. */
async function bpfStatsRun(w: Workload, server: Server, arm: ArmName, tmp: string, durationS: number): Promise<BpfStatRow> {
  const cell = await withBpfStats(() => runCell(w, server, arm, 0, tmp, { durationS, bpfStats: true }));
  return { workload: w.id, arm, requests: cell.requests, programs: cell.bpf ?? [] };
}

async function profileRun(w: Workload, server: Server, tmp: string, durationS: number): Promise<{ top: ProfileEntry[]; file: string } | null> {
  const dir = path.join(tmp, 'cpuprof');
  fs.mkdirSync(dir, { recursive: true });
  await runCell(w, server, 'tcpsniff', 0, tmp, { durationS, cpuProfDir: dir });
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (!files.length) return null;
  const file = path.join(dir, files[0]!);
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const keep = path.join(tmp, '..', `tcpsniff-collector-${Date.now()}.cpuprofile`);
  fs.copyFileSync(file, keep);
  return { top: topSelfTime(prof, fromRoot() + '/').slice(0, 20), file: keep };
}

async function main(): Promise<void> {
  installExitHandlers();
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('the benchmarks load eBPF programs and pin processes: run as root');
  ensureTools(opts.install);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-bench-'));
  const { onCleanup } = await import('./lib/procs');
  onCleanup(() => fs.rmSync(tmp, { recursive: true, force: true }));
  fs.mkdirSync(fromRoot('bench', 'results'), { recursive: true });
  const started = new Date();
  const all = workloads(opts.quick).filter((w) => !opts.only || opts.only.includes(w.id));
  if (all.some((w) => w.load === 'ghz')) log(`ghz: ${ghz()}`);
  log(
    `${all.length} workload(s) × ${opts.arms.length} arms × ${opts.rounds} rounds of ${opts.durationS}s (+ warm-up); placement: server CPU ${PLACEMENT.server}, load generator CPU ${PLACEMENT.load}, tracer CPU ${PLACEMENT.tracer}`,
  );
  const cells: Cell[] = [];
  const bpfRows: BpfStatRow[] = [];
  let profile: { top: ProfileEntry[]; file: string } | null = null;
  for (const w of all) {
    log(`workload ${w.id}: ${w.title}`);
    const server = await startServer(w, tmp);
    try {
      // Warm-up: the server, page cache and JIT of everything, without a tracer.
      await runCell(w, server, 'baseline', 0, tmp, { durationS: 2 });
      for (let round = 1; round <= opts.rounds; round++) {
        for (const arm of opts.arms) {
          try {
            const c = await runCell(w, server, arm, round, tmp, { durationS: opts.durationS, compareRoot: opts.compare });
            cells.push(c);
            log(fmtCell(c));
          } catch (e) {
            log(`${w.id} ${arm} round ${round} failed: ${(e as Error).message}`);
            cells.push({
              workload: w.id,
              arm,
              round,
              loadavg: [NaN, NaN, NaN],
              requests: NaN,
              rps: NaN,
              p50Us: NaN,
              p99Us: NaN,
              serverCpuUsPerReq: NaN,
              tracerCpuMsPer1k: NaN,
              tracerHwmMiB: NaN,
              errors: (e as Error).message,
            });
          }
        }
      }
      // BPF stats: the syscall programs on the first workload, the TLS uprobe programs on HTTPS ones.
      if (w.id === all[0]!.id || w.tls) {
        if (opts.bpfStats) {
          for (const arm of ['tcpsniff', 'bpftrace'] as ArmName[]) {
            if (!opts.arms.includes(arm)) continue;
            log(`BPF run time per event (${arm}, kernel.bpf_stats_enabled=1 for this run only)`);
            const row = await bpfStatsRun(w, server, arm, tmp, opts.durationS).catch((e) => (log(`bpf stats run failed: ${e.message}`), null));
            if (row) bpfRows.push(row);
          }
        }
        if (opts.profile && opts.arms.includes('tcpsniff') && w.id === all[0]!.id) {
          log('profiling the collector (node --cpu-prof) during one run');
          profile = await profileRun(w, server, tmp, opts.durationS).catch((e) => (log(`profile run failed: ${e.message}`), null));
        }
      }
    } finally {
      await server.stop();
    }
  }
  let uprobeTrap: UprobeTrap | null = null;
  if (all.some((w) => w.tls) && opts.arms.includes('tcpsniff')) {
    log('the kernel’s cost of a uprobe hit (bench/fixtures/uprobe-loop.c under bpftrace)');
    uprobeTrap = await measureUprobeTrap(tmp, PLACEMENT.server).catch((e) => (log(`uprobe trap measurement failed: ${e.message}`), null));
  }
  let micro: unknown = null;
  if (opts.micro) {
    log('microbenchmarks (node dist/bench/micro.js)');
    const r = await runToEnd(process.execPath, ['--expose-gc', fromRoot('dist', 'bench', 'micro.js'), '--json', ...(opts.quick ? ['--quick'] : [])], {
      cpus: PLACEMENT.server,
      timeoutMs: 600_000,
    });
    process.stderr.write(r.err);
    try {
      micro = JSON.parse(r.out);
    } catch {
      log(`microbenchmarks failed (${r.code}): ${r.out.slice(-500)}`);
    }
  }
  const results = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    options: opts,
    argv: process.argv.slice(2),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      node: process.version,
      tools: toolVersions(),
    },
    placement: PLACEMENT,
    workloads: all,
    cells,
    bpf: bpfRows,
    uprobeTrap,
    profile,
    micro,
  };
  const md = opts.out ? path.resolve(opts.out) : fromRoot('BENCHMARKS.md');
  const json = opts.out ? md.replace(/\.md$/, '') + '.json' : fromRoot('bench', 'results', 'latest.json');
  fs.writeFileSync(json, JSON.stringify(results, null, 1));
  writeReport(results, md);
  log(`wrote ${md} and ${json}`);
}

function toolVersions(): Record<string, string> {
  const v = (cmd: string, args: string[], re: RegExp) => {
    const r = spawnSync(cmd, args);
    const m = re.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    return m ? m[1]! : '?';
  };
  return {
    nginx: v('nginx', ['-v'], /nginx\/([\d.]+)/),
    wrk: v('wrk', ['-v'], /wrk (\S+)/),
    h2load: v('h2load', ['--version'], /nghttp2\/([\d.]+)/),
    tcpdump: v('tcpdump', ['--version'], /tcpdump version (\S+)/),
    bpftrace: v('bpftrace', ['--version'], /bpftrace (v?\S+)/),
  };
}

if (require.main === module) {
  main()
    .then(() => {
      cleanupAll();
      process.exit(0);
    })
    .catch((e) => {
      log(`failed: ${(e as Error).stack ?? e}`);
      cleanupAll();
      process.exit(1);
    });
}
