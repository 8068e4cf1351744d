// What the collector's BPF programs cost per traced syscall and per request, from the kernel's own
// BPF statistics (kernel.bpf_stats_enabled=1, restored afterwards): run counts and run time of
// each program the collector holds, read from /proc/<collector pid>/fdinfo. Process CPU times
// vary with whatever else runs on the machine; these much less.
//
//   npm run bench:bpf-cost [-- --requests N --rounds R --size 1k --connections C --uncaptured --compare DIR]
//
// nginx (bench/lib/servers.ts) serves a file of --size on a free port, pinned to one CPU;
// h2load --h1 sends a fixed number of keep-alive requests; the collector is the benchmark's
// tcpsniff arm (bench/lib/arms.ts: tcp receiver filtered to the port → http → file exporter),
// so both nginx's and h2load's side of every connection are captured. With --uncaptured the
// collector filters on a port nobody uses: every syscall then takes the reject path.
// --compare DIR alternates runs (ABBA) with the collector of another package root (a copy of another
// build: bin/, dist/, build/, scripts/, node_modules, .cache/node), so both see the same background load.
//
// The programs are system-wide: syscalls of every other process on the host count too (they take
// the reject path). Prints, per program and collector, the median over the rounds of runs per
// request, ns per run and ns per request.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bpfProgCosts, bpfProgNames, bpfProgStats, startArm, withBpfStats, type BpfProgCost } from './lib/arms';
import { percentile } from './lib/parse';
import { cleanupAll, freePort, installExitHandlers, onCleanup, sleep } from './lib/procs';
import { runH2load, startNginx } from './lib/servers';
import { PLACEMENT } from './run';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Round {
  requests: number;
  programs: BpfProgCost[];
}

async function main(): Promise<void> {
  installExitHandlers();
  const requests = Number(arg('--requests') ?? 200000);
  const rounds = Number(arg('--rounds') ?? 3);
  const size = arg('--size') ?? '1k';
  const connections = Number(arg('--connections') ?? 32);
  const uncaptured = process.argv.includes('--uncaptured');
  const compare = arg('--compare');
  const collectors: { label: string; root?: string }[] = [{ label: 'this' }];
  if (compare) collectors.push({ label: 'compare', root: path.resolve(compare) });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-bpf-cost-'));
  onCleanup(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const server = await startNginx(tmp, await freePort(), PLACEMENT.server);
  const load = (n: number) =>
    runH2load({ port: server.port, path: server.pathFor(size), h1: true, clients: connections, requests: n, tmp, cpus: PLACEMENT.load });
  try {
    await load(Math.min(requests, 20000)); // warm-up: page cache, nginx
    const results = new Map<string, Round[]>(collectors.map((c) => [c.label, []]));
    await withBpfStats(async () => {
      for (let round = 1; round <= rounds; round++) {
        // ABBA order: neither collector always runs first (the first run of a round tends to cost less).
        for (const c of round % 2 ? collectors : [...collectors].reverse()) {
          const filterPort = uncaptured ? await freePort() : server.port;
          const tracer = await startArm('tcpsniff', { port: filterPort, serverPid: server.pid, tmp, cpus: PLACEMENT.tracer, collectorRoot: c.root });
          try {
            await sleep(200);
            const before = bpfProgStats(tracer.pid!);
            const r = await load(requests);
            const after = bpfProgStats(tracer.pid!);
            const programs = bpfProgCosts(before, after, bpfProgNames(after.keys()), r.succeeded);
            results.get(c.label)!.push({ requests: r.succeeded, programs });
            const total = programs.reduce((a, p) => a + p.totalNsPerReq, 0);
            const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
            process.stderr.write(
              `round ${round} ${c.label}: ${r.succeeded} requests, ${Math.round(r.rps)} req/s, BPF ${total.toFixed(0)} ns/request, loadavg ${load1}\n`,
            );
          } finally {
            await tracer.stop();
          }
        }
      }
    });
    console.log(
      `nginx ${size}, h2load --h1 -c${connections} -n${requests}, ${uncaptured ? 'connections NOT captured (reject path)' : 'both sides captured'}, median of ${rounds} round(s), kernel ${os.release()}`,
    );
    for (const c of collectors) report(c.label + (c.root ? ` (${c.root})` : ''), results.get(c.label)!);
  } finally {
    await server.stop();
  }
}

function report(label: string, rounds: Round[]): void {
  const names = [...new Set(rounds.flatMap((r) => r.programs.map((p) => p.name)))];
  const med = (name: string, f: (p: BpfProgCost, requests: number) => number) =>
    percentile(
      rounds.map((r) => {
        const p = r.programs.find((q) => q.name === name);
        return p ? f(p, r.requests) : 0;
      }),
      50,
    );
  const rows = names
    .map((name) => ({ name, perReq: med(name, (p, n) => p.runCnt / n), avgNs: med(name, (p) => p.avgNs), nsPerReq: med(name, (p) => p.totalNsPerReq) }))
    .sort((a, b) => b.nsPerReq - a.nsPerReq);
  const totals = rounds.map((r) => r.programs.reduce((a, p) => a + p.totalNsPerReq, 0));
  console.log(`\n${label}`);
  console.log(`${'program'.padEnd(24)} ${'runs/req'.padStart(9)} ${'ns/run'.padStart(8)} ${'ns/req'.padStart(8)}`);
  for (const r of rows)
    console.log(`${r.name.padEnd(24)} ${r.perReq.toFixed(2).padStart(9)} ${r.avgNs.toFixed(0).padStart(8)} ${r.nsPerReq.toFixed(0).padStart(8)}`);
  console.log(
    `${'total'.padEnd(24)} ${''.padStart(9)} ${''.padStart(8)} ${percentile(totals, 50).toFixed(0).padStart(8)}  (rounds: ${totals.map((t) => t.toFixed(0)).join(', ')})`,
  );
}

if (require.main === module) {
  main()
    .then(() => (cleanupAll(), process.exit(0)))
    .catch((e) => {
      process.stderr.write(`bpf-cost: failed: ${(e as Error).stack ?? e}\n`);
      cleanupAll();
      process.exit(1);
    });
}
