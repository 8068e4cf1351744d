// Pure parsing and statistics helpers of the benchmark harness (unit-tested in
// test/unit/bench-parse.test.ts). No I/O here: callers pass text in.

/** min / median / max of a sample (NaN-free); empty → all NaN. */
export interface Spread {
  min: number;
  median: number;
  max: number;
  n: number;
}

export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { min: NaN, median: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { min: v[0]!, median, max: v[v.length - 1]!, n: v.length };
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(values: number[] | Float64Array, p: number): number {
  if (values.length === 0) return NaN;
  const v = Float64Array.from(values).sort();
  const rank = Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1));
  return v[rank]!;
}

/** "1.50ms" / "250.00us" / "2.01s" / "3m" (wrk's units) → microseconds. */
export function wrkDurationUs(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(s.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  const mult: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
  return n * mult[m[2]!]!;
}

export interface WrkResult {
  requests: number;
  durationS: number;
  rps: number;
  /** From --latency: percentile → µs. */
  latencyUs: Record<string, number>;
  errors: { connect: number; read: number; write: number; timeout: number; non2xx: number };
  /** From the marker script's done(): thread id → requests issued (markers 1..n). */
  issued: Map<number, number>;
}

export function parseWrk(out: string): WrkResult {
  const req = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const latencyUs: Record<string, number> = {};
  const dist = out.split('Latency Distribution')[1];
  if (dist) {
    for (const m of dist.matchAll(/^\s+(\d+(?:\.\d+)?)%\s+(\S+)\s*$/gm)) latencyUs[`p${m[1]}`] = wrkDurationUs(m[2]!);
  }
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const issued = new Map<number, number>();
  for (const m of out.matchAll(/^MARK (\d+) (\d+)$/gm)) issued.set(Number(m[1]), Number(m[2]));
  return {
    requests: req ? Number(req[1]) : NaN,
    durationS: req ? wrkDurationUs(`${req[2]}${req[3]}`) / 1e6 : NaN,
    rps: rps ? Number(rps[1]) : NaN,
    latencyUs,
    errors: {
      connect: sock ? Number(sock[1]) : 0,
      read: sock ? Number(sock[2]) : 0,
      write: sock ? Number(sock[3]) : 0,
      timeout: sock ? Number(sock[4]) : 0,
      non2xx: non2xx ? Number(non2xx[1]) : 0,
    },
    issued,
  };
}

export interface H2loadResult {
  total: number;
  started: number;
  done: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  rps: number;
  durationS: number;
}

export function parseH2load(out: string): H2loadResult {
  const fin = /finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req\/s/.exec(out);
  const reqs = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const n = (i: number) => (reqs ? Number(reqs[i]) : NaN);
  return {
    total: n(1),
    started: n(2),
    done: n(3),
    succeeded: n(4),
    failed: n(5),
    errored: n(6),
    timeout: n(7),
    rps: fin ? Number(fin[3]) : NaN,
    durationS: fin ? wrkDurationUs(`${fin[1]}${fin[2]}`) / 1e6 : NaN,
  };
}

/** h2load --log-file lines: "start(µs since epoch)\tstatus\tduration(µs)" → durations in µs. */
export function parseH2loadLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    if (f.length >= 3) {
      const d = Number(f[2]);
      if (Number.isFinite(d)) out.push(d);
    }
  }
  return out;
}

export interface GhzResult {
  /** Calls that ended OK (each one a complete gRPC exchange on the wire). */
  ok: number;
  /** Every call ghz counted, whatever its status (in-flight calls cancelled at the end included). */
  count: number;
  rps: number;
  /** From ghz's latency distribution: percentile → µs. */
  latencyUs: Record<string, number>;
  statuses: Record<string, number>;
}

/** ghz -O json output → counts and latencies (ghz reports nanoseconds). */
export function parseGhz(out: string): GhzResult {
  let j: {
    count?: number;
    rps?: number;
    statusCodeDistribution?: Record<string, number>;
    latencyDistribution?: { percentage: number; latency: number }[] | null;
  };
  try {
    j = JSON.parse(out.slice(out.indexOf('{')));
  } catch {
    return { ok: NaN, count: NaN, rps: NaN, latencyUs: {}, statuses: {} };
  }
  const latencyUs: Record<string, number> = {};
  for (const d of j.latencyDistribution ?? []) latencyUs[`p${d.percentage}`] = d.latency / 1000;
  const statuses = j.statusCodeDistribution ?? {};
  return { ok: statuses['OK'] ?? 0, count: j.count ?? NaN, rps: j.rps ?? NaN, latencyUs, statuses };
}

export interface CollectorSummary {
  records: number;
  bytes: number;
  exchanges: number;
  spansExported: number;
  dropsTotal: number;
  drops: Record<string, number>;
}

/** The collector's exit summary lines (src/summary.ts formatSummary) → numbers; null when absent. */
export function parseCollectorSummary(stderr: string): CollectorSummary | null {
  const m = /summary: records=(\d+) bytes=(\d+) exchanges=(\d+) spans_exported=(\d+).*?drops_total=(\d+)/.exec(stderr);
  if (!m) return null;
  const drops: Record<string, number> = {};
  const d = /summary: drops by reason: (.*)$/m.exec(stderr);
  if (d) for (const kv of d[1]!.matchAll(/([\w.]+)=(\d+)/g)) drops[kv[1]!] = Number(kv[2]);
  return {
    records: Number(m[1]),
    bytes: Number(m[2]),
    exchanges: Number(m[3]),
    spansExported: Number(m[4]),
    dropsTotal: Number(m[5]),
    drops,
  };
}

/** /proc/PID/stat → utime + stime in clock ticks (the comm field may hold spaces and parens). */
export function procStatTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  return Number(rest[11]) + Number(rest[12]);
}

/** /proc/PID/status → VmHWM and VmRSS in KiB. */
export function procStatusMem(status: string): { hwmKiB: number; rssKiB: number } {
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return { hwmKiB: hwm ? Number(hwm[1]) : NaN, rssKiB: rss ? Number(rss[1]) : NaN };
}

/** /proc/PID/smaps_rollup → proportional set size (KiB): pages shared with other processes count
 * by their share, and a page mapped twice by one process (the BPF ring buffer's data pages, mapped
 * twice so records can wrap) counts once, where RSS counts it twice. */
export function smapsRollupPssKiB(rollup: string): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(rollup);
  return m ? Number(m[1]) : NaN;
}

/** /proc/PID/fdinfo/FD of a BPF program → its run statistics (null for other fds). A BPF link's
 * fdinfo names its program too (prog_tag, prog_id) but has no run statistics: null as well, or a
 * link read before its program would hide the program's figures. */
export function bpfProgFdinfo(text: string): { tag: string; id: number; runTimeNs: number; runCnt: number } | null {
  const tag = /^prog_tag:\s+(\w+)/m.exec(text);
  const c = /^run_cnt:\s+(\d+)/m.exec(text);
  if (!tag || !c) return null;
  const id = /^prog_id:\s+(\d+)/m.exec(text);
  const t = /^run_time_ns:\s+(\d+)/m.exec(text);
  return { tag: tag[1]!, id: id ? Number(id[1]) : -1, runTimeNs: t ? Number(t[1]) : 0, runCnt: Number(c[1]) };
}

/** tcpdump's exit statistics. */
export function parseTcpdumpStats(stderr: string): { captured: number; received: number; dropped: number } {
  const n = (re: RegExp) => {
    const m = re.exec(stderr);
    return m ? Number(m[1]) : NaN;
  };
  return {
    captured: n(/(\d+) packets? captured/),
    received: n(/(\d+) packets? received by filter/),
    dropped: n(/(\d+) packets? dropped by kernel/),
  };
}

/** Per-request markers "m=T-N" found in OTLP/JSON span lines, split by span kind. */
export interface MarkerScan {
  spans: number;
  byKind: Record<number, number>;
  /** kind → thread id → set bits (marker numbers seen). */
  seen: Map<number, Map<number, Uint8Array>>;
  duplicates: number;
}

export function newMarkerScan(): MarkerScan {
  return { spans: 0, byKind: {}, seen: new Map(), duplicates: 0 };
}

const SPAN_RE = /"kind":(\d)|m=(\d+)-(\d+)/g;

/**
 * Scans one OTLP/JSON line (the file exporter's format). Each span has "kind" before its
 * attributes, so a marker belongs to the last kind seen. Works on text without JSON.parse
 * (the files reach hundreds of MB).
 */
export function scanMarkers(line: string, scan: MarkerScan): void {
  let kind = 0;
  for (const m of line.matchAll(SPAN_RE)) {
    if (m[1] !== undefined) {
      kind = Number(m[1]);
      scan.spans++;
      scan.byKind[kind] = (scan.byKind[kind] ?? 0) + 1;
      continue;
    }
    const t = Number(m[2]);
    const n = Number(m[3]);
    let byThread = scan.seen.get(kind);
    if (!byThread) scan.seen.set(kind, (byThread = new Map()));
    let bits = byThread.get(t);
    if (!bits || bits.length <= n) {
      const grown = new Uint8Array(Math.max(n + 1, (bits?.length ?? 0) * 2, 1024));
      if (bits) grown.set(bits);
      byThread.set(t, (bits = grown));
    }
    if (bits[n]) scan.duplicates++;
    bits[n] = 1;
  }
}

/** Markers issued (thread → 1..n) that are missing from the spans of one kind. */
export function missingMarkers(scan: MarkerScan, kind: number, issued: Map<number, number>): { issued: number; found: number; missing: number } {
  let total = 0;
  let found = 0;
  const byThread = scan.seen.get(kind);
  for (const [t, n] of issued) {
    total += n;
    const bits = byThread?.get(t);
    if (!bits) continue;
    for (let i = 1; i <= n && i < bits.length; i++) found += bits[i]!;
  }
  return { issued: total, found, missing: total - found };
}

export interface ProfileEntry {
  name: string;
  where: string;
  selfMs: number;
  pct: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** A V8 .cpuprofile → functions by self time (descending). */
export function topSelfTime(profile: { nodes: CpuProfileNode[]; samples?: number[]; timeDeltas?: number[] }, root = ''): ProfileEntry[] {
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<string, number>();
  const meta = new Map<string, { name: string; where: string }>();
  let total = 0;
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    const dt = deltas[i + 1] ?? deltas[i] ?? 0; // a sample's weight: the time until the next one
    if (!node || dt <= 0) continue;
    const cf = node.callFrame;
    const file = cf.url.replace(/^file:\/\//, '').replace(root, '');
    const key = `${cf.functionName}@${file}:${cf.lineNumber + 1}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    if (!meta.has(key)) meta.set(key, { name: cf.functionName || '(anonymous)', where: file ? `${file}:${cf.lineNumber + 1}` : '' });
    total += dt;
  }
  return [...selfUs.entries()].sort((a, b) => b[1] - a[1]).map(([k, us]) => ({ ...meta.get(k)!, selfMs: us / 1000, pct: total ? (100 * us) / total : 0 }));
}

/** "0.45 0.52 0.60 2/345 6789" → the three load averages. */
export function parseLoadavg(text: string): [number, number, number] {
  const f = text.trim().split(/\s+/).map(Number);
  return [f[0] ?? NaN, f[1] ?? NaN, f[2] ?? NaN];
}

/** Formats a number for the tables: 3 significant digits, thousands kept whole. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '–';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}

export function fmtSpread(s: Spread, digits = 3): string {
  if (s.n === 0) return '–';
  if (s.n === 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}
