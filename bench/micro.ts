// Microbenchmarks: node dist/bench/micro.js [--json] [--quick] [--only parser,hpack,pipeline,ringbuf]
//   parser    HTTP/1 parsing and pairing (Http1Handler, server side) on realistic request/response pairs
//   hpack     HPACK decoding of request and response header blocks (steady state, dynamic table)
//   pipeline  CaptureChunks → http processor → batch → file exporter (OTLP/JSON lines to a temp file)
//   links     the trace_links processor: spans of local exchanges (both ends) and 4-span thread-per-request
//             chains, at a simulated arrival rate; CPU per span and what the window holds
//   ringbuf   records/s from the kernel ring buffer into JS: a C program doing many small writes on
//             a loopback TCP connection while the tcp receiver's syscalls backend drains (needs root)

import { execFile, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createLogger } from '../src/core/logger';
import { fromRoot } from '../src/core/paths';
import type { CaptureChunk, ConnectionMeta, SpanRecord } from '../src/core/types';
import { batchProcessorFactory } from '../src/processors/batch';
import { httpProcessorFactory, HttpProcessor } from '../src/processors/http';
import { HpackDecoder } from '../src/processors/http/h2/hpack';
import { Http1Handler } from '../src/processors/http/h1/handler';
import { Counters } from '../src/processors/http/core/counters';
import type { HandlerContext } from '../src/processors/http/core/contract';
import type { HttpExchange } from '../src/processors/http/model/exchange';
import { fileExporterFactory } from '../src/exporters/file';
import { Linker } from '../src/processors/trace_links/linker';
import { RuntimeClassifier } from '../src/processors/trace_links/runtime';
import { SpanKind, StatusCode, type LinkInfo } from '../src/core/types';
import { HpackEncoder } from '../test/unit/helpers/h2';

interface Row {
  name: string;
  unit: string;
  value: number;
  detail?: string;
}

const quiet = createLogger('error', 'bench', () => {});
const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1]!.split(',') : null;
const rows: Row[] = [];
const say = (s: string) => process.stderr.write(`micro: ${s}\n`);

/** Runs fn repeatedly for ~ms milliseconds (after a warm-up), returns iterations and seconds. */
function timeIt(fn: () => number, ms: number): { units: number; s: number } {
  const warm = Date.now() + ms / 4;
  while (Date.now() < warm) fn();
  let units = 0;
  const t0 = process.hrtime.bigint();
  const end = Date.now() + ms;
  while (Date.now() < end) units += fn();
  return { units, s: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const META: ConnectionMeta = { connId: 'b-1', family: 4, localAddr: '127.0.0.1', localPort: 8080, remoteAddr: '127.0.0.1', remotePort: 50000, role: 'server' };

function reqText(i: number): string {
  return (
    `GET /api/v1/items/${i}?page=2&sort=desc HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) bench/1.0\r\n` +
    'Accept: application/json\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\nConnection: keep-alive\r\n' +
    'Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789\r\nX-Request-Id: 4bf92f3577b34da6a3ce929d0e0e4736\r\n\r\n'
  );
}
function resText(body: number): string {
  return (
    `HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 22 Nov 2026 08:00:00 GMT\r\nContent-Type: application/json\r\nContent-Length: ${body}\r\n` +
    'Last-Modified: Sat, 22 Nov 2026 07:00:00 GMT\r\nConnection: keep-alive\r\nETag: "6560a6c0-400"\r\nAccept-Ranges: bytes\r\n\r\n' +
    'x'.repeat(body)
  );
}

function benchParser(): void {
  for (const body of [0, 1024]) {
    const pairs = Array.from({ length: 256 }, (_, i) => [Buffer.from(reqText(i), 'latin1'), Buffer.from(resText(body), 'latin1')] as const);
    const bytesPerPair = pairs.reduce((a, [q, r]) => a + q.length + r.length, 0) / pairs.length;
    let out = 0;
    const ctx: HandlerContext = {
      meta: META,
      // The processor's own limits for its default config (whatever fields HandlerLimits has today).
      limits: new HttpProcessor(httpProcessorFactory.parseConfig({}, 'processors::http'), { id: 'http', logger: quiet }, { consumeSpans() {} }).limits,
      stats: new Counters(),
      pid: 1,
      comm: 'bench',
      emit: (_ex: HttpExchange) => void out++,
    };
    const h = new Http1Handler(ctx, 'ingress');
    const r = timeIt(
      () => {
        for (const [q, s] of pairs) {
          h.onData('ingress', q, 1n, -1);
          h.onData('egress', s, 2n, -1);
        }
        return pairs.length;
      },
      QUICK ? 1500 : 4000,
    );
    const mbs = (r.units * bytesPerPair) / r.s / 1e6;
    rows.push({
      name: `HTTP/1 parse + pair, ${body} B body (${Math.round(bytesPerPair)} B per exchange)`,
      unit: 'MB/s',
      value: mbs,
      detail: `${((r.s / r.units) * 1e9).toFixed(0)} ns per exchange (request + response), ${Math.round(r.units / r.s).toLocaleString('en-US')} exchanges/s; ${out} emitted`,
    });
  }
}

function benchHpack(): void {
  const enc = new HpackEncoder();
  const blocks: Buffer[] = [];
  for (let i = 0; i < 256; i++) {
    blocks.push(
      enc.encode([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':authority', 'api.example.com'],
        [':path', `/api/v1/items/${i}?page=2`],
        ['user-agent', 'grpc-node-js/1.14.7'],
        ['accept', 'application/json'],
        ['x-request-id', `4bf92f3577b34da6a3ce929d0e0e${(4736 + i).toString(16)}`],
        ['authorization', 'Bearer abcdefghijklmnopqrstuvwxyz0123456789', 'never'],
      ]),
    );
    blocks.push(
      enc.encode([
        [':status', '200'],
        ['server', 'nginx/1.22.1'],
        ['date', `Sat, 22 Nov 2026 08:00:${String(i % 60).padStart(2, '0')} GMT`],
        ['content-type', 'application/json'],
        ['content-length', String(1000 + i)],
      ]),
    );
  }
  const bytes = blocks.reduce((a, b) => a + b.length, 0);
  // The encoder's table state is what the decoder must replay: decode the sequence from the start each time.
  const r = timeIt(
    () => {
      const d = new HpackDecoder();
      for (const b of blocks) {
        const res = d.decode(b);
        if (!res.ok) throw new Error(res.error);
      }
      return blocks.length;
    },
    QUICK ? 1500 : 4000,
  );
  rows.push({
    name: `HPACK decode (request + response blocks, Huffman, dynamic table; ${Math.round(bytes / blocks.length)} B per block)`,
    unit: 'MB/s',
    value: (r.units * (bytes / blocks.length)) / r.s / 1e6,
    detail: `${((r.s / r.units) * 1e9).toFixed(0)} ns per header block, ${Math.round(r.units / r.s).toLocaleString('en-US')} blocks/s`,
  });
}

async function benchPipeline(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-micro-'));
  const file = path.join(tmp, 'spans.jsonl');
  try {
    const ctx = (id: string) => ({ id, logger: quiet });
    // Back to front: each stage is created with the next.
    const exp = fileExporterFactory.create(fileExporterFactory.parseConfig({ path: file, flush_interval: '200ms' }, 'exporters::file'), ctx('file'));
    await exp.start();
    let spans = 0;
    const batch = batchProcessorFactory.create(batchProcessorFactory.parseConfig({}, 'processors::batch'), ctx('batch'), {
      consumeSpans: (s) => {
        spans += s.length;
        exp.consumeSpans(s);
      },
    });
    await batch.start();
    const proc = new HttpProcessor(httpProcessorFactory.parseConfig({}, 'processors::http'), ctx('http'), batch);
    await proc.start();
    // 64 server connections of this process (pid of the bench: a real /proc entry), exchanges in turn.
    const conns = Array.from({ length: 64 }, (_, i) => ({
      meta: { ...META, connId: `c-${i}`, remotePort: 40000 + i },
      off: { ingress: 0, egress: 0 },
    }));
    const req = Buffer.from(reqText(7), 'latin1');
    const res = Buffer.from(resText(1024), 'latin1');
    const mk = (c: (typeof conns)[number], dir: 'ingress' | 'egress', data: Buffer, t: bigint): CaptureChunk => {
      const ch: CaptureChunk = {
        kind: 'data',
        conn: c.meta,
        direction: dir,
        offset: c.off[dir],
        data,
        lostAfter: 0,
        timeUnixNano: t,
        pid: process.pid,
        tid: process.pid,
        comm: 'bench',
        source: 'bench',
      };
      c.off[dir] += data.length;
      return ch;
    };
    const total = QUICK ? 100_000 : 300_000;
    let t = 1_700_000_000_000_000_000n;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (let done = 0; done < total;) {
      const chunks: CaptureChunk[] = [];
      for (let k = 0; k < 256 && done < total; k++, done++) {
        const c = conns[done % conns.length]!;
        chunks.push(mk(c, 'ingress', req, (t += 1000n)));
        chunks.push(mk(c, 'egress', res, (t += 1000n)));
      }
      proc.consumeChunks(chunks);
      if (done % 20480 === 0) await new Promise((r) => setImmediate(r)); // let timers (batch, flush) run
    }
    await proc.shutdown();
    await (batch as unknown as { shutdown(): Promise<void> }).shutdown();
    await exp.shutdown();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const written = lines.reduce((a, l) => a + (l.match(/"spanId"/g)?.length ?? 0), 0);
    rows.push({
      name: 'spans through http → batch → file exporter (1 KiB responses, 64 connections)',
      unit: 'spans/s',
      value: written / s,
      detail: `${(((cpu.user + cpu.system) / 1000 / written) * 1000).toFixed(2)} ms CPU per 1,000 spans; ${written.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} written (${spans} left the batch)`,
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function benchRingbuf(): Promise<void> {
  if (process.getuid?.() !== 0) {
    say('ringbuf skipped: needs root');
    return;
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-micro-'));
  try {
    const bin = path.join(tmp, 'blaster');
    const cc = spawnSync('cc', ['-O2', '-o', bin, fromRoot('bench', 'fixtures', 'blaster.c')], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`cc failed: ${cc.stderr}`);
    const { syscallsBackend } = await import('../src/receivers/syscalls-backend');
    const { filterMaps } = await import('../src/receivers/tcp/filters');
    const { parseTcpReceiverConfig } = await import('../src/receivers/tcp/config');
    for (const size of [64, 512, 4096]) {
      const port = 30000 + Math.floor(Math.random() * 20000);
      const cfg = parseTcpReceiverConfig({ ports: [port] }, 'receivers::tcp');
      const f = filterMaps(cfg);
      let records = 0;
      let bytes = 0;
      const cand = syscallsBackend({
        receiverName: 'tcp',
        object: 'tcp_syscalls',
        settings: cfg,
        rodata: f.rodata,
        mapEntries: f.mapEntries,
        consumer: {
          consumeChunks: (chunks: CaptureChunk[]) => {
            records += chunks.length;
            for (const c of chunks) bytes += c.data.length;
          },
        },
        logger: quiet,
      });
      const session = await cand.start();
      const seconds = QUICK ? 2 : 4;
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      // The writer on the other CPU: writes `size` bytes in a loop for `seconds`; its peer reads with large reads.
      // Asynchronous: the event loop must stay free to take the addon's batches.
      const r = await new Promise<{ stdout: string }>((resolve, reject) => {
        execFile('taskset', ['-c', '0', bin, String(port), String(size), String(seconds)], { encoding: 'utf8', timeout: 60_000 }, (err, stdout) =>
          err ? reject(err) : resolve({ stdout }),
        );
      });
      const writes = Number(/writes=(\d+)/.exec(r.stdout)?.[1] ?? NaN);
      const reads = Number(/reads=(\d+)/.exec(r.stdout)?.[1] ?? NaN);
      await new Promise((res) => setTimeout(res, 300));
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const st = session.stats();
      await session.close();
      const drops = Object.entries(st).filter(([k, v]) => k.startsWith('drops.') && v > 0);
      rows.push({
        name: `ring buffer → JS records, ${size} B writes (one writer on CPU 0, JS on CPU 1)`,
        unit: 'records/s',
        value: records / seconds,
        detail: `${writes.toLocaleString('en-US')} writes + ${reads.toLocaleString('en-US')} reads in ${seconds} s → ${records.toLocaleString('en-US')} records (${(bytes / 2 ** 20).toFixed(0)} MiB) delivered; JS CPU ${(((cpu.user + cpu.system) / 1e6 / s) * 100).toFixed(0)}% of a core; drops: ${drops.length ? drops.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`,
      });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * trace_links on spans shaped like the http processor's: per exchange, the SERVER span then the
 * CLIENT span of one keep-alive connection out of 64 (a load generator → a local server: rule 1),
 * or, with `chains`, curl → front → front's call → downstream (rules 1 and 2). Arrival time is
 * simulated at `rate` spans/s, so the window fills as it would at that rate.
 */
function benchLinks(rate: number, chains: boolean): void {
  const linker = new Linker({
    windowMs: 2000,
    maxSpans: 20_000,
    connectionLinks: true,
    threadLinks: true,
    eventLoopGuard: true,
    callerContext: true,
    slackNs: 20_000_000n,
    runtime: new RuntimeClassifier({ eventLoopExecutables: ['node'] }),
    localAddresses: () => new Set(),
  });
  const resource = { attributes: { 'service.name': 'bench', 'process.executable.name': 'bench' } };
  let id = 0;
  const span = (
    kind: number,
    connId: string,
    role: 'client' | 'server',
    cport: number,
    sport: number,
    offset: number,
    pid: number,
    thread: number,
    serving: bigint,
    t: number[],
  ): SpanRecord => {
    id++;
    const client = kind === SpanKind.CLIENT;
    const link: LinkInfo = {
      connId,
      role,
      requestOffset: offset,
      responseOffset: offset,
      h2StreamId: -1,
      inode: 0,
      peerInode: 0,
      thread,
      servingSince: serving,
      processStartNs: 1,
      requestStart: BigInt(t[0]!),
      requestEnd: BigInt(t[1]!),
      responseStart: BigInt(t[2]!),
      responseEnd: BigInt(t[3]!),
    };
    return {
      traceId: id.toString(16).padStart(32, '0'),
      spanId: id.toString(16).padStart(16, '0'),
      name: 'GET',
      kind: kind as 2 | 3,
      startTimeUnixNano: BigInt(t[0]!),
      endTimeUnixNano: BigInt(t[3]!),
      attributes: {},
      events: [],
      status: { code: StatusCode.UNSET },
      resource,
      internal: {
        pid,
        conn: client
          ? { family: 4, localAddr: '127.0.0.1', localPort: cport, remoteAddr: '127.0.0.1', remotePort: sport }
          : { family: 4, localAddr: '127.0.0.1', localPort: sport, remoteAddr: '127.0.0.1', remotePort: cport },
        link,
      },
    };
  };
  // Pre-built batches (span building is the http processor's cost, not this one's).
  const batches: SpanRecord[][] = [];
  const total = QUICK ? 100_000 : 400_000;
  const offsets = new Array<number>(64).fill(0);
  let ns = 1_700_000_000_000_000_000;
  for (let n = 0; n < total;) {
    const b: SpanRecord[] = [];
    while (b.length < 64 && n < total) {
      const k = n % 64;
      ns += 50_000;
      const t = (a: number) => [ns + a, ns + a + 10, ns + a + 800, ns + a + 900];
      if (!chains) {
        b.push(span(SpanKind.SERVER, `s${k}`, 'server', 40000 + k, 8080, offsets[k]!, 2, 2, BigInt(ns), t(100)));
        b.push(span(SpanKind.CLIENT, `c${k}`, 'client', 40000 + k, 8080, offsets[k]!, 1, 1, -1n, t(0)));
        offsets[k]! += 700;
        n += 2;
      } else {
        const p = 50000 + (n % 20000);
        const tid = 100 + k;
        b.push(span(SpanKind.SERVER, `d${n}`, 'server', p + 1, 9000, 0, 3, 300 + k, BigInt(ns + 310), [ns + 310, ns + 320, ns + 600, ns + 650]));
        b.push(span(SpanKind.CLIENT, `fc${n}`, 'client', p + 1, 9000, 0, process.pid, tid, BigInt(ns + 100), [ns + 300, ns + 305, ns + 640, ns + 700]));
        b.push(span(SpanKind.SERVER, `fs${n}`, 'server', p, 8080, 0, process.pid, tid, BigInt(ns + 100), [ns + 100, ns + 110, ns + 800, ns + 850]));
        b.push(span(SpanKind.CLIENT, `curl${n}`, 'client', p, 8080, 0, 1, 1, -1n, [ns, ns + 5, ns + 840, ns + 900]));
        n += 4;
      }
    }
    batches.push(b);
  }
  let out = 0;
  let peakWindow = 0;
  const cpu0 = process.cpuUsage();
  let simulatedMs = 0;
  for (const b of batches) {
    simulatedMs += (b.length / rate) * 1000;
    out += linker.add(b, simulatedMs).length;
    peakWindow = Math.max(peakWindow, linker.windowSize);
  }
  const cpu = process.cpuUsage(cpu0);
  // What the window holds: the heap with it, minus the heap once it is drained (the spans
  // themselves stay referenced by `batches` either way). Needs --expose-gc to mean anything.
  globalThis.gc?.();
  const held = process.memoryUsage().heapUsed;
  out += linker.drain().length;
  globalThis.gc?.();
  const heap = (held - process.memoryUsage().heapUsed) / 2 ** 20;
  const us = (cpu.user + cpu.system) / total;
  const c = linker.counters;
  rows.push({
    name: `trace_links, ${chains ? '4-span thread-per-request chains' : 'both ends of local keep-alive connections'} at ${rate.toLocaleString('en-US')} spans/s`,
    unit: 'µs CPU/span',
    value: us,
    detail: `${total.toLocaleString('en-US')} spans in, ${out.toLocaleString('en-US')} out; links: connection ${c['links.connection']}, thread ${c['links.thread']}; window peak ${peakWindow.toLocaleString('en-US')} spans, heap +${heap.toFixed(0)} MiB; unlinked.capacity ${c['unlinked.capacity']}, released.no_parent ${c['released.no_parent']}; ${((rate * us) / 1e4).toFixed(1)}% of a core at that rate`,
  });
}

async function main(): Promise<void> {
  const want = (n: string) => !ONLY || ONLY.includes(n);
  if (want('parser')) {
    say('HTTP/1 parser');
    benchParser();
  }
  if (want('hpack')) {
    say('HPACK');
    benchHpack();
  }
  if (want('pipeline')) {
    say('pipeline');
    await benchPipeline();
  }
  if (want('links')) {
    say('trace_links');
    benchLinks(40_000, false); // nginx-1k-20k: 20,000 exchanges/s, both ends on the host
    benchLinks(40_000, true);
  }
  if (want('ringbuf')) {
    say('ring buffer');
    await benchRingbuf().catch((e) => say(`ringbuf failed: ${(e as Error).message}`));
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify({ rows }) + '\n');
  else for (const r of rows) console.log(`${r.name}: ${r.value.toFixed(1)} ${r.unit}  ${r.detail ?? ''}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    say(`failed: ${(e as Error).stack ?? e}`);
    process.exit(1);
  },
);
