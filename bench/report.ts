// BENCHMARKS.md from a results object (bench/run.ts). The hand-written section between
// <!-- notes:begin --> and <!-- notes:end --> of the existing file is kept.

import * as fs from 'node:fs';
import { TLS_PROGRAMS } from '../src/receivers/tls/runtimes';
import type { ArmName, BpfProgCost } from './lib/arms';
import { fmt, fmtSpread, spread, type ProfileEntry, type Spread } from './lib/parse';
import type { UprobeTrap } from './lib/uprobes';
import type { BpfStatRow, Cell, Workload } from './run';

interface MicroRow {
  name: string;
  unit: string;
  value: number;
  detail?: string;
}

export interface Results {
  started: string;
  finished: string;
  argv: string[];
  options: { quick: boolean; rounds: number; durationS: number; arms: ArmName[] };
  machine: { cpus: number; cpuModel: string; memGiB: number; kernel: string; node: string; tools: Record<string, string> };
  placement: { server: string; load: string; tracer: string };
  workloads: Workload[];
  cells: Cell[];
  bpf: BpfStatRow[];
  /** Absent in runs without an HTTPS workload (and in results written before it existed). */
  uprobeTrap?: UprobeTrap | null;
  profile: { top: ProfileEntry[]; file: string } | null;
  micro: unknown;
}

const ARM_TEXT: Record<ArmName, string> = {
  baseline: 'no tracer',
  tcpsniff:
    'tcpsniff-collector: tcp receiver (`ports: [P]`, syscalls backend) and sendfile receiver → config/default.yaml’s processors in its order (http → trace_links → genai → redaction → batch) → file exporter (OTLP/JSON lines, instead of the console)',
  compare: 'the tcpsniff arm run from the build given with `--compare DIR` (an A/B within one run: both alternate in every round)',
  tcpdump: '`tcpdump -i lo -s 0 -B 65536 -w FILE "tcp port P"`: whole packets to a file',
  bpftrace:
    'bpftrace on sys_enter/sys_exit of write, writev, sendto, sendmsg, read, readv, recvfrom, recvmsg, filtered on the server pid: per-syscall call count, byte sum and a latency histogram in maps (no payload copied, nothing printed per event)',
};

/** A cell that counts: it ran, and no other process's uprobes taxed the server meanwhile. */
const usable = (c: Cell) => !c.errors && !c.foreignUprobes?.length;

/** Values of one arm, and its ratios to the baseline of the same round. */
function armFigures(cells: Cell[], arm: ArmName, pick: (c: Cell) => number, ratio: boolean): Spread {
  const vals: number[] = [];
  for (const c of cells.filter((c) => c.arm === arm && usable(c))) {
    const v = pick(c);
    if (!ratio) {
      vals.push(v);
      continue;
    }
    const b = cells.find((x) => x.arm === 'baseline' && x.round === c.round && usable(x));
    if (b) vals.push(v / pick(b));
  }
  return spread(vals);
}

/** Per round, f of the arm's cell and the same round's baseline cell. */
function perRound(cells: Cell[], arm: ArmName, f: (c: Cell, base: Cell) => number): number[] {
  const out: number[] = [];
  for (const c of cells.filter((c) => c.arm === arm && !c.errors)) {
    const b = cells.find((x) => x.arm === 'baseline' && x.round === c.round && !x.errors);
    if (b) out.push(f(c, b));
  }
  return out;
}

/** The tracer's CPU per request (µs) over the untraced server's CPU per request of the same round. */
const tracerToServerCpu = (c: Cell, base: Cell) => c.tracerCpuMsPer1k / base.serverCpuUsPerReq;

/** Collector CPU per exchange as it counts them (µs): loopback shows a request from both ends. */
const cpuPerExchangeUs = (c: Cell) => (c.collector && c.collector.exchanges ? (c.tracerCpuMsPer1k * c.requests) / c.collector.exchanges : NaN);

function deltaFigures(cells: Cell[], arm: ArmName, pick: (c: Cell) => number): Spread {
  const vals: number[] = [];
  for (const c of cells.filter((c) => c.arm === arm && usable(c))) {
    const b = cells.find((x) => x.arm === 'baseline' && x.round === c.round && usable(x));
    if (b) vals.push(pick(c) - pick(b));
  }
  return spread(vals);
}

const pct = (s: Spread) => (s.n ? `${fmt(s.median * 100)}% (${fmt(s.min * 100)}–${fmt(s.max * 100)})` : '–');

function completenessText(cells: Cell[]): string {
  const cs = cells.filter((c) => c.completeness);
  if (!cs.length) return '–';
  const exp = cs.reduce((a, c) => a + c.completeness!.expected, 0);
  const srv = cs.reduce((a, c) => a + c.completeness!.serverSpans, 0);
  const miss = cs.reduce((a, c) => a + (c.completeness!.serverMissing ?? Math.max(0, c.completeness!.expected - c.completeness!.serverSpans)), 0);
  const cli = cs.reduce((a, c) => a + c.completeness!.clientSpans, 0);
  const cliMiss = cs.reduce((a, c) => a + (c.completeness!.clientMissing ?? 0), 0);
  const allow = cs.reduce((a, c) => a + c.completeness!.inFlightAllowance, 0);
  const marked = cs.some((c) => c.completeness!.serverMissing !== undefined);
  return `server spans ${srv.toLocaleString('en-US')} / ${exp.toLocaleString('en-US')} requests (${marked ? 'markers missing' : 'short by'} ${miss}${allow ? `; ≤${allow} may be in flight at the cut-off` : ''}); client spans ${cli.toLocaleString('en-US')}${marked ? ` (markers missing ${cliMiss})` : ''}`;
}

function nonZeroDrops(cells: Cell[]): string {
  const sum: Record<string, number> = {};
  for (const c of cells) for (const [k, v] of Object.entries(c.collector?.drops ?? {})) sum[k] = (sum[k] ?? 0) + v;
  const nz = Object.entries(sum).filter(([, v]) => v > 0);
  return nz.length ? nz.map(([k, v]) => `${k}=${v}`).join(' ') : `all ${Object.keys(sum).length} counters 0`;
}

function workloadSection(w: Workload, cells: Cell[], arms: ArmName[]): string[] {
  const L: string[] = [];
  const wc = cells.filter((c) => c.workload === w.id);
  L.push(`### ${w.id}: ${w.title}`, '');
  const base = (pick: (c: Cell) => number) => fmtSpread(armFigures(wc, 'baseline', pick, false));
  const fixed = w.rate !== undefined;
  L.push(
    `Baseline: ${base((c) => c.rps)} req/s, server CPU ${base((c) => c.serverCpuUsPerReq)} µs/request` +
      (Number.isFinite(wc[0]?.p99Us ?? NaN) ? `, p50 ${base((c) => c.p50Us)} µs, p99 ${base((c) => c.p99Us)} µs` : '') +
      '.',
    '',
  );
  L.push(
    `| arm | ${fixed ? 'achieved req/s' : 'max req/s'} vs baseline | server CPU µs/req (Δ vs baseline) | p50 vs baseline | p99 vs baseline | tracer CPU ms / 1k req | tracer CPU ÷ untraced server CPU, per request | tracer peak RSS MiB | tracer peak PSS MiB | completeness, losses |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const arm of arms.filter((a) => a !== 'baseline')) {
    const ac = wc.filter((c) => c.arm === arm);
    if (!ac.length) continue;
    const cpu = armFigures(wc, arm, (c) => c.serverCpuUsPerReq, false);
    const dcpu = deltaFigures(wc, arm, (c) => c.serverCpuUsPerReq);
    let loss = '–';
    if (arm === 'tcpsniff' || arm === 'compare') loss = `${completenessText(ac)}; ${nonZeroDrops(ac)}`;
    if (arm === 'tcpdump') {
      const cap = ac.reduce((a, c) => a + (c.tcpdump?.captured ?? 0), 0);
      const drop = ac.reduce((a, c) => a + (c.tcpdump?.dropped ?? 0), 0);
      const mb = ac.reduce((a, c) => a + (c.tcpdump?.fileBytes ?? 0), 0) / ac.length / 2 ** 20;
      loss = `${cap.toLocaleString('en-US')} packets, ${drop} dropped by kernel; ${fmt(mb)} MiB pcap per run`;
    }
    if (arm === 'bpftrace') {
      const calls = ac.reduce((a, c) => a + (c.bpftrace?.calls ?? 0), 0);
      loss = `${calls.toLocaleString('en-US')} syscalls counted (no exchanges, no payload)`;
    }
    const errs = ac.filter((c) => c.errors).length;
    const taxed = ac.filter((c) => c.foreignUprobes?.length).length;
    L.push(
      `| ${arm} | ${pct(armFigures(wc, arm, (c) => c.rps, true))} | ${fmtSpread(cpu)} (${dcpu.n ? `${dcpu.median >= 0 ? '+' : ''}${fmt(dcpu.median)}` : '–'}) | ${pct(armFigures(wc, arm, (c) => c.p50Us, true))} | ${pct(armFigures(wc, arm, (c) => c.p99Us, true))} | ${fmtSpread(armFigures(wc, arm, (c) => c.tracerCpuMsPer1k, false))} | ${fmtSpread(spread(perRound(wc, arm, tracerToServerCpu)))}× | ${fmtSpread(armFigures(wc, arm, (c) => c.tracerHwmMiB, false))} | ${fmtSpread(armFigures(wc, arm, (c) => c.tracerPssMiB ?? NaN, false))} | ${loss}${errs ? `; ${errs} failed run(s)` : ''}${taxed ? `; ${taxed} run(s) left out (another process's uprobes on the server's libraries)` : ''} |`,
    );
  }
  for (const arm of ['tcpsniff', 'compare'] as ArmName[]) {
    const ratios = perRound(wc, arm, tracerToServerCpu);
    if (ratios.length)
      L.push(
        '',
        `Collector CPU per request ÷ the untraced server's CPU per request (same round, ${arm} arm): ${fmtSpread(spread(ratios))}×; per round ${ratios.map((x) => fmt(x)).join(', ')}.`,
      );
  }
  const taxedBase = wc.filter((c) => c.arm === 'baseline' && c.foreignUprobes?.length);
  if (taxedBase.length)
    L.push(
      '',
      `Left out: ${taxedBase.length} baseline round(s) during which other processes held uprobes on the server's libraries (${[...new Set(taxedBase.flatMap((c) => c.foreignUprobes!))].join(', ')}): every breakpoint hit costs the server whoever set it, so those rounds were not baselines; every arm's ratios and Δ skip them.`,
    );
  const la = wc.map((c) => c.loadavg[0]).filter(Number.isFinite);
  const rpsBase = armFigures(wc, 'baseline', (c) => c.rps, false);
  L.push(
    '',
    `Noise: 1-minute load average before each run ${fmt(Math.min(...la))}–${fmt(Math.max(...la))}; baseline req/s spread ${rpsBase.n ? `${fmt(((rpsBase.max - rpsBase.min) / rpsBase.median) * 100)}% of its median` : '–'} over ${rpsBase.n} rounds.`,
    '',
  );
  return L;
}

interface Target {
  text: string;
  measured: string;
  met: boolean | null;
}

function targets(r: Results): Target[] {
  const t: Target[] = [];
  const main = r.cells.filter((c) => c.workload === 'nginx-1k');
  const fixed = r.cells.filter((c) => c.workload === 'nginx-1k-20k');
  const rpsRatio = armFigures(main, 'tcpsniff', (c) => c.rps, true);
  t.push({
    text: 'traced nginx keeps ≥ 95% of its baseline max req/s (nginx-1k)',
    measured: rpsRatio.n ? `${pct(rpsRatio)}` : 'not measured',
    met: rpsRatio.n ? rpsRatio.median >= 0.95 : null,
  });
  const d = deltaFigures(main, 'tcpsniff', (c) => c.serverCpuUsPerReq);
  const dFixed = deltaFigures(fixed, 'tcpsniff', (c) => c.serverCpuUsPerReq);
  t.push({
    text: '≤ 1 µs of CPU added per request in the traced process',
    measured: d.n ? `+${fmtSpread(d)} µs (closed loop)${dFixed.n ? `, +${fmtSpread(dFixed)} µs (20k req/s)` : ''}` : 'not measured',
    met: d.n ? d.median <= 1 : null,
  });
  const c1k = armFigures(main, 'tcpsniff', (c) => c.tracerCpuMsPer1k, false);
  const c1kEx = armFigures(
    main,
    'tcpsniff',
    (c) => (c.collector && c.collector.exchanges ? (c.tracerCpuMsPer1k * c.requests) / c.collector.exchanges : NaN),
    false,
  );
  t.push({
    text: '≤ 5 ms of collector CPU per 1,000 HTTP/1.1 exchanges',
    measured: c1k.n
      ? `${fmtSpread(c1k)} ms per 1,000 requests; each request is seen from both ends on loopback (client and server spans), so ${fmtSpread(c1kEx)} ms per 1,000 exchanges as the collector counts them`
      : 'not measured',
    met: c1kEx.n ? c1kEx.median <= 5 : null,
  });
  const c10k = r.cells.filter((c) => c.workload === 'nginx-1k-c10k' && c.arm === 'tcpsniff');
  t.push({
    text: 'collector RSS ≤ 150 MB at 10,000 open connections',
    measured: c10k.length
      ? `${fmtSpread(spread(c10k.map((c) => c.tracerHwmMiB)))} MiB peak`
      : `not measured at 10,000 connections; peak RSS at 32 connections: ${fmtSpread(armFigures(main, 'tcpsniff', (c) => c.tracerHwmMiB, false))} MiB`,
    met: c10k.length ? spread(c10k.map((c) => c.tracerHwmMiB)).max * 1.048576 <= 150 : null,
  });
  const fc = fixed.filter((c) => c.arm === 'tcpsniff' && c.completeness);
  const lost = fc.reduce((a, c) => a + Math.max(0, c.completeness!.expected - c.completeness!.serverSpans), 0);
  const exp = fc.reduce((a, c) => a + c.completeness!.expected, 0);
  t.push({
    text: 'zero lost exchanges at 20,000 exchanges/s',
    measured: fc.length
      ? `${lost} of ${exp.toLocaleString('en-US')} requests without a server span at a fixed 20,000 req/s (the collector saw ≈40,000 exchanges/s: both ends), non-zero drop counters: ${nonZeroDrops(fc)}`
      : 'not measured',
    met: fc.length ? lost === 0 : null,
  });
  return t;
}

/** Issue 17's targets: each against the same round's untraced baseline, medians of the rounds. */
function targets17(r: Results): Target[] {
  const t: Target[] = [];
  const of = (id: string) => r.cells.filter((c) => c.workload === id);
  const fixed = of('nginx-1k-15k');
  const cpuRatio = spread(perRound(fixed, 'tcpsniff', tracerToServerCpu));
  t.push({
    text: 'collector CPU per request ≤ 1.0× the untraced server’s CPU per request (nginx-1k-15k: fixed 15,000 req/s)',
    measured: cpuRatio.n ? `${fmtSpread(cpuRatio)}×` : 'not measured',
    met: cpuRatio.n ? cpuRatio.median <= 1 : null,
  });
  const c10k = of('nginx-1k-c10k').filter((c) => c.arm === 'tcpsniff' && !c.errors);
  const pss = spread(c10k.map((c) => c.tracerPssMiB ?? NaN));
  t.push({
    text: 'collector PSS ≤ 150 MB with 10,000 open keep-alive connections (nginx-1k-c10k)',
    measured: pss.n
      ? `peak PSS ${fmtSpread(pss)} MiB (RSS at that moment ${fmtSpread(spread(c10k.map((c) => c.tracerRssAtPssMiB ?? NaN)))} MiB; peak RSS ${fmtSpread(spread(c10k.map((c) => c.tracerHwmMiB)))} MiB)`
      : 'not measured',
    met: pss.n ? pss.median * 1.048576 <= 150 : null,
  });
  const fc = fixed.filter((c) => c.arm === 'tcpsniff' && c.completeness);
  const lost = fc.reduce((a, c) => a + Math.max(0, c.completeness!.expected - c.completeness!.serverSpans), 0);
  const exp = fc.reduce((a, c) => a + c.completeness!.expected, 0);
  const closedLoss = (id: string) =>
    spread(
      of(id)
        .filter((c) => c.arm === 'tcpsniff' && c.completeness && c.completeness.expected > 0)
        .map((c) => (c.completeness!.serverMissing ?? Math.max(0, c.completeness!.expected - c.completeness!.serverSpans)) / c.completeness!.expected),
    );
  const l16 = { nginx: closedLoss('nginx-16k'), node: closedLoss('node-16k') };
  t.push({
    text: 'zero loss at the fixed rate; < 1% of exchanges lost in nginx-16k and node-16k (closed loop)',
    measured: [
      fc.length ? `${lost} of ${exp.toLocaleString('en-US')} requests without a server span at 15,000 req/s (${nonZeroDrops(fc)})` : 'fixed rate not measured',
      `nginx-16k ${pct(l16.nginx)}`,
      `node-16k ${pct(l16.node)} of requests without a server span`,
    ].join('; '),
    met: fc.length && l16.nginx.n && l16.node.n ? lost === 0 && l16.nginx.median < 0.01 && l16.node.median < 0.01 : null,
  });
  const srv = armFigures(fixed, 'tcpsniff', (c) => c.serverCpuUsPerReq, true);
  const srvClosed = ['nginx-1k', 'node-1k'].map((id) => [id, armFigures(of(id), 'tcpsniff', (c) => c.serverCpuUsPerReq, true)] as const).filter(([, s]) => s.n);
  t.push({
    text: 'the traced server’s CPU per request ≤ 1.15× untraced (nginx-1k-15k)',
    measured: srv.n ? `${fmtSpread(srv)}×${srvClosed.map(([id, s]) => `; ${id} (closed loop) ${fmtSpread(s)}×`).join('')}` : 'not measured',
    met: srv.n ? srv.median <= 1.15 : null,
  });
  const perEx = (id: string) =>
    spread(
      of(id)
        .filter((c) => c.arm === 'tcpsniff' && !c.errors)
        .map(cpuPerExchangeUs),
    );
  const h1 = perEx('nginx-1k');
  const others = ['nginx-h2-1k', 'grpc-1k'].map((id) => [id, perEx(id)] as const).filter(([, s]) => s.n);
  t.push({
    text: 'HTTP/2 and gRPC: collector CPU per exchange ≤ 1.5× HTTP/1’s (nginx-h2-1k, grpc-1k against nginx-1k, closed loops)',
    measured:
      h1.n && others.length
        ? `HTTP/1 ${fmt(h1.median)} µs per exchange; ${others.map(([id, s]) => `${id} ${fmt(s.median)} µs (${fmt(s.median / h1.median)}×)`).join(', ')}`
        : 'not measured',
    met: h1.n && others.length === 2 ? others.every(([, s]) => s.median / h1.median <= 1.5) : null,
  });
  return t;
}

/** The TLS capture's uprobe programs (bpftool may cut names to 15 characters). */
const isTlsProgram = (name: string) => TLS_PROGRAMS.some((p) => p === name || (name.length === 15 && p.startsWith(name)));

/** What the uprobe programs cost per TLS library call; [] when none ran. */
function uprobeLine(programs: BpfProgCost[], requests: number): string[] {
  const up = programs.filter((p) => isTlsProgram(p.name));
  const runs = up.reduce((a, p) => a + p.runCnt, 0);
  if (!runs) return [];
  const ns = up.reduce((a, p) => a + p.avgNs * p.runCnt, 0);
  return [
    `TLS uprobe programs (${up.map((p) => p.name).join(', ')}): ${fmt(runs / requests)} runs per request, ${fmt(ns / runs)} ns per run; ` +
      `a library call (SSL_read, SSL_write, …) runs two (entry and return), so ${fmt((2 * ns) / runs)} ns of BPF per call, ${fmt(ns / requests)} ns per request. ` +
      'Runs in every process that maps a hooked file count too (the hooks are per file, system-wide). Not included: the kernel’s own cost of each hit (breakpoint trap, single step, return trampoline): see the next section.',
    '',
  ];
}

function uprobeTrapSection(t: UprobeTrap): string[] {
  const n = t.nsPerCall;
  const row = (f: 'p_sub' | 'p_push', what: string) =>
    `| ${what} | ${fmt(n.none[f])} | ${fmt(n.entry[f] - n.none[f])} | ${fmt(n['entry+return'][f] - n.none[f])} |`;
  return [
    '## The kernel’s cost of a uprobe hit',
    '',
    `What BPF statistics leave out: the breakpoint trap, the execution of the displaced instruction and the return trampoline. bench/fixtures/uprobe-loop.c calls a tiny function ${t.calls.toLocaleString('en-US')} times on the server's CPU, untraced and under bpftrace with a uprobe (and a uretprobe) whose program only counts; CPU time of the calling thread per call, median of ${t.rounds} interleaved rounds. Each TLS library call the collector hooks pays the "entry + return" figure of its first instruction's kind, plus its BPF programs (above).`,
    '',
    '| probed function starts with | untraced ns/call | + uprobe at entry, ns | + uprobe and uretprobe, ns |',
    '|---|---|---|---|',
    row('p_sub', '`sub $0x18,%rsp` (as OpenSSL 3’s SSL_read/SSL_write): executed out of line, single-stepped'),
    row('p_push', '`push %rbp`: emulated by the kernel'),
    '',
  ];
}

function microSection(micro: unknown): string[] {
  if (!micro || !Array.isArray((micro as { rows?: unknown }).rows)) return ['Not run (`--no-micro`) or failed.', ''];
  const rows = (micro as { rows: MicroRow[] }).rows;
  const L = ['| benchmark | figure | detail |', '|---|---|---|'];
  for (const r of rows) L.push(`| ${r.name} | ${fmt(r.value)} ${r.unit} | ${r.detail ?? ''} |`);
  L.push('');
  return L;
}

export function writeReport(r: Results, file: string): void {
  let notes = '<!-- notes:begin -->\n_(Findings written by hand go here; `npm run bench` keeps this block.)_\n<!-- notes:end -->';
  try {
    const old = fs.readFileSync(file, 'utf8');
    const m = /<!-- notes:begin -->[\s\S]*?<!-- notes:end -->/.exec(old);
    if (m) notes = m[0];
  } catch {
    /* first run */
  }
  const arms = r.options.arms;
  const L: string[] = [];
  L.push(
    '# Benchmarks',
    '',
    '_Generated by `npm run bench` (bench/run.ts) — do not edit by hand except inside the notes block; raw figures in bench/results/latest.json._',
    '',
    '## Reproduce',
    '',
    '```sh',
    'sudo npm run bench               # full: every workload, 3 rounds of 10 s per arm (≈30 min; `-- --duration 5`: ≈20 min)',
    'sudo npm run bench -- --quick    # nginx 1 KiB closed loop + fixed 15k and 20k req/s, 3 rounds of 5 s (a few minutes)',
    '# options: --rounds N --duration S --only nginx-1k,node-1k --arms baseline,tcpsniff --no-micro --no-profile --no-bpf-stats --no-install --out /tmp/x.md --compare DIR (an arm running the collector of another build: DIR with its bin/, dist/, build/, scripts/, node_modules/, .cache/node)',
    'sudo npm run bench:bpf-cost      # BPF ns per program and per request, nginx 1 KiB (bench/bpf-cost.ts; --compare DIR for A/B)',
    '```',
    '',
    'It builds the project (`scripts/setup.sh`), installs what is missing with apt-get (wrk, nghttp2-client, tcpdump, bpftrace, bpftool), starts the servers on free ports, and kills every server, collector and tracer it started on any exit (error, Ctrl-C).',
    '',
    `## This run`,
    '',
    `- ${r.started} → ${r.finished}; \`npm run bench -- ${r.argv.join(' ')}\`; ${r.options.rounds} rounds of ${r.options.durationS} s per arm after a 2 s warm-up per workload, arms interleaved (${arms.join(' → ')}, repeated).`,
    `- Machine: ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memGiB} GiB, Linux ${r.machine.kernel}, Node ${r.machine.node}; the tcp receiver runs its \`syscalls\` backend (only tracepoints, tp_btf and uprobes load here).`,
    `- Tools: ${Object.entries(r.machine.tools)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    `- Placement (taskset): the traced server alone on CPU ${r.placement.server}; the load generator (wrk / h2load, one thread) and the tracer's user-space process on CPU ${r.placement.load}. BPF programs run on the CPU of the hooked syscall (both). With 2 cores the tracer competes with the load generator, not with the server: max req/s stays server-bound as long as the load generator has headroom.`,
    '- Noise: other engineers run test suites on this machine at the same time. Every figure is median (min–max) over the rounds; ratios are taken against the baseline of the same round. The 1-minute load average before each run is recorded.',
    '',
    '### Arms',
    '',
    ...arms.map((a) => `- **${a}**: ${ARM_TEXT[a]}`),
    '',
    '### Figures',
    '',
    '- **max req/s**: closed loop (wrk -t1, `-cN`, keep-alive unless stated; h2load for HTTP/2; ghz for gRPC, unary calls of a grpc-js echo service); the ratio to the baseline of the same round.',
    "- **p50 / p99**: wrk's latency distribution (closed loop), or for fixed-rate runs h2load `--rps` per connection with `-n` = rate × duration and percentiles computed from its `--log-file` (each request's own latency); for gRPC, ghz's own latency distribution.",
    "- **server CPU µs/req**: the traced server's CPU time during the load (sum of its threads' `/proc/PID/task/*/schedstat`, ns) ÷ requests completed; BPF programs run in the traced syscalls, so their cost is inside this figure. Δ = minus the same round's baseline.",
    '- **tracer CPU ms / 1k req**: user+system CPU of the tracer process (`/proc/PID/stat`) from the start of the load until it has caught up (CPU idle), ÷ requests × 1000. Peak RSS is VmHWM; peak PSS is the highest `Pss` of `/proc/PID/smaps_rollup` sampled every 0.5 s (the ring buffer’s pages are mapped twice, so RSS counts them twice and PSS once). The ratio column: tracer CPU per request (µs) ÷ the same round’s untraced server CPU per request.',
    "- **completeness**: each wrk request carries a unique marker (`?m=<thread>-<n>`, bench/lib/servers.ts); the spans file is scanned for every marker, server side (SERVER spans, nginx) and client side (CLIENT spans, wrk). For h2load runs, spans are counted against h2load's `done`, for ghz runs against its calls that ended OK. Drops: every `drops.*` counter of the collector's exit summary.",
    '',
    '## Targets (issue 17)',
    '',
    'Medians of the interleaved rounds; every ratio against the untraced baseline of the same round.',
    '',
    '| target | measured | met? |',
    '|---|---|---|',
    ...targets17(r).map((t) => `| ${t.text} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`),
    '',
    '## Targets (issue 8) and the gap',
    '',
    '| target | measured | met? |',
    '|---|---|---|',
    ...targets(r).map((t) => `| ${t.text} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? 'yes' : '**no**'} |`),
    '',
    notes,
    '',
    '## Results per workload',
    '',
  );
  for (const w of r.workloads) L.push(...workloadSection(w, r.cells, arms));
  L.push('## BPF program run time per event', '');
  if (r.bpf.length) {
    L.push(
      "One extra run of the first workload (and of each HTTPS workload) per arm with `kernel.bpf_stats_enabled=1` (restored afterwards; not during the timed rounds, stats add a little cost). From `/proc/PID/fdinfo` of the tracer's program fds.",
      '',
    );
    for (const row of r.bpf) {
      const tot = row.programs.reduce((a, p) => a + p.totalNsPerReq, 0);
      L.push(
        `**${row.arm}** (${row.workload}, ${row.requests.toLocaleString('en-US')} requests): ${fmt(tot)} ns of BPF per request in total (client and server syscalls, and every other process's hooked syscalls meanwhile).`,
        '',
      );
      L.push('| program | runs | avg ns/run | ns per request |', '|---|---|---|---|');
      for (const p of row.programs.slice(0, 12)) L.push(`| ${p.name} | ${p.runCnt.toLocaleString('en-US')} | ${fmt(p.avgNs)} | ${fmt(p.totalNsPerReq)} |`);
      L.push('', ...uprobeLine(row.programs, row.requests));
    }
  } else L.push('Not measured (`--no-bpf-stats`, or the sysctl could not be set).', '');
  if (r.uprobeTrap) L.push(...uprobeTrapSection(r.uprobeTrap));
  L.push('## Collector profile (node --cpu-prof during one run of the first workload)', '');
  if (r.profile) {
    L.push(
      `Top functions by self time (profile written to ${r.profile.file} on the machine of the run, not committed; open it in Chrome DevTools):`,
      '',
      '| function | where | self ms | % |',
      '|---|---|---|---|',
    );
    for (const p of r.profile.top.slice(0, 15)) L.push(`| ${p.name} | ${p.where} | ${fmt(p.selfMs)} | ${fmt(p.pct)} |`);
    L.push('');
  } else L.push('Not run (`--no-profile`) or failed.', '');
  L.push('## Microbenchmarks (bench/micro.ts, pinned to one CPU)', '', ...microSection(r.micro));
  fs.writeFileSync(file, L.join('\n') + '\n');
}
