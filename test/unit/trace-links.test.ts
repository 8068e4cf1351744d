// The trace_links linker's rules and guards, on spans shaped like the http processor's.
// (Real programs through the real collector: test/integration/trace-links.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpanKind, StatusCode, type LinkInfo, type Resource, type SpanRecord } from '../../src/core/types';
import { Linker, type LinkerOptions } from '../../src/processors/trace_links/linker';
import { RuntimeClassifier, isGoBinary } from '../../src/processors/trace_links/runtime';
import { traceLinksProcessorFactory } from '../../src/processors/trace_links';

// A fake /proc: every pid's exe is /bin/sh (an ELF that is not Go), unless set otherwise.
const PROC = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-proc-'));
function exeLink(pid: number, target = '/bin/sh') {
  fs.mkdirSync(path.join(PROC, String(pid)), { recursive: true });
  const l = path.join(PROC, String(pid), 'exe');
  if (!fs.existsSync(l)) fs.symlinkSync(target, l);
}

const resources = new Map<string, Resource>();
const resourceOf = (exe: string, pid: number) => {
  const k = `${exe}/${pid}`;
  if (!resources.has(k)) resources.set(k, { attributes: { 'service.name': exe, 'process.executable.name': exe, 'process.pid': pid } });
  return resources.get(k)!;
};

const BASE = 1_700_000_000_000_000_000n;
const ms = (n: number) => BASE + BigInt(Math.round(n * 1e6));
let ids = 0;
const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');

interface Ex {
  kind: 'client' | 'server';
  pid: number;
  exe?: string;
  thread?: number;
  conn: string;
  /** client endpoint port (server is 127.0.0.1:8000 unless serverPort) */
  port: number;
  serverPort?: number;
  offset?: number;
  resOffset?: number;
  h2?: number;
  /** request start, request end, response start, response end (ms) */
  t: [number, number, number, number];
  traceparent?: boolean;
  remote?: string;
  /** When the thread last switched to its current server connection (ms; default: a server's request start, none for a client). */
  since?: number;
}

function span(e: Ex): SpanRecord {
  ids++;
  const client = e.kind === 'client';
  const sp = e.serverPort ?? 8000;
  const cli = { addr: '127.0.0.1', port: e.port };
  const srv = { addr: e.remote ?? '127.0.0.1', port: sp };
  const link: LinkInfo = {
    connId: e.conn,
    role: e.kind,
    requestOffset: e.h2 !== undefined ? -1 : (e.offset ?? 0),
    responseOffset: e.h2 !== undefined ? -1 : (e.resOffset ?? e.offset ?? 0),
    h2StreamId: e.h2 ?? -1,
    inode: 0,
    peerInode: 0,
    thread: e.thread ?? e.pid + 1,
    servingSince: e.since !== undefined ? ms(e.since) : client ? -1n : ms(e.t[0]),
    processStartNs: 7,
    requestStart: ms(e.t[0]),
    requestEnd: ms(e.t[1]),
    responseStart: ms(e.t[2]),
    responseEnd: ms(e.t[3]),
  };
  exeLink(e.pid);
  return {
    traceId: hex(ids, 32),
    spanId: hex(ids, 16),
    ...(e.traceparent ? { parentSpanId: 'cafecafecafecafe', traceId: 'feed'.repeat(8) } : {}),
    name: 'GET',
    kind: client ? SpanKind.CLIENT : SpanKind.SERVER,
    startTimeUnixNano: ms(e.t[0]),
    endTimeUnixNano: ms(e.t[3]),
    attributes: {},
    events: [],
    status: { code: StatusCode.UNSET },
    resource: resourceOf(e.exe ?? 'python3', e.pid),
    internal: {
      pid: e.pid,
      conn: client
        ? { family: 4, localAddr: cli.addr, localPort: cli.port, remoteAddr: srv.addr, remotePort: srv.port }
        : { family: 4, localAddr: srv.addr, localPort: srv.port, remoteAddr: cli.addr, remotePort: cli.port },
      link,
    },
  };
}

function linker(over: Partial<LinkerOptions> = {}) {
  return new Linker({
    windowMs: 1000,
    maxSpans: 1000,
    connectionLinks: true,
    threadLinks: true,
    eventLoopGuard: true,
    callerContext: true,
    slackNs: 5_000_000n,
    runtime: new RuntimeClassifier({ eventLoopExecutables: ['node', 'deno', 'bun'], procRoot: PROC }),
    localAddresses: () => new Set(['10.0.0.5']),
    ...over,
  });
}

/** curl → front (pid 20, a worker thread) → downstream (pid 30): the four spans of one request. */
function chain(port: number, t0 = 0, front = { pid: 20, thread: 21, exe: 'python3' }) {
  return {
    curl: span({ kind: 'client', pid: 10, exe: 'curl', thread: 10, conn: `curl${port}`, port, t: [t0, t0 + 1, t0 + 9, t0 + 10] }),
    frontServer: span({ kind: 'server', ...front, conn: `fs${port}`, port, t: [t0 + 0.1, t0 + 1.1, t0 + 8.9, t0 + 9.9] }),
    frontClient: span({
      kind: 'client',
      ...front,
      conn: `fc${port}`,
      port: port + 1,
      serverPort: 9000,
      since: t0 + 0.1,
      t: [t0 + 2, t0 + 2.1, t0 + 7, t0 + 7.1],
    }),
    // Its last byte is stamped a little after the client's (the two ends' stamps differ): clamped.
    downstream: span({
      kind: 'server',
      pid: 30,
      thread: 31,
      conn: `ds${port}`,
      port: port + 1,
      serverPort: 9000,
      t: [t0 + 2.05, t0 + 2.15, t0 + 6.9, t0 + 7.12],
    }),
  };
}

test('trace_links: a chain arriving child-first waits for its root, then comes out as one trace with the right parents', () => {
  const l = linker();
  const c = chain(40000);
  // Completion order: the downstream answers first, curl's exchange completes last.
  assert.deepEqual(l.add([c.downstream], 0), []);
  assert.deepEqual(l.add([c.frontClient], 1), []);
  assert.deepEqual(l.add([c.frontServer], 2), []);
  assert.equal(l.held, 3);
  const traceId = c.curl.traceId;
  // curl's thread never served a request: its span cannot get a thread parent, so it is final at once.
  const out = l.add([c.curl], 3);
  assert.equal(out.length, 4);
  assert.equal(c.curl.parentSpanId, undefined);
  assert.equal(c.frontServer.parentSpanId, c.curl.spanId);
  assert.equal(c.frontClient.parentSpanId, c.frontServer.spanId);
  assert.equal(c.downstream.parentSpanId, c.frontClient.spanId);
  for (const s of out) assert.equal(s.traceId, traceId);
  assert.equal(l.counters['links.connection'], 2);
  assert.equal(l.counters['links.thread'], 1);
  assert.equal(l.counters['released.no_parent'], 0);
  assert.equal(l.held, 0);
});

test('trace_links: concurrent chains never link across requests; children inside their parents (clock slack clamped)', () => {
  const l = linker();
  const chains = [0, 1, 2, 3].map((i) => chain(41000 + 10 * i, i * 0.5)); // interleaved in time
  const all = chains.flatMap((c) => [c.downstream, c.frontClient, c.frontServer, c.curl]);
  // Different requests' front exchanges run on different threads: give each its own.
  chains.forEach((c, i) => {
    c.frontServer.internal!.link!.thread = 100 + i;
    c.frontClient.internal!.link!.thread = 100 + i;
  });
  const out = [...l.add(all, 0), ...l.tick(2000)];
  assert.equal(out.length, 16);
  for (const c of chains) {
    assert.equal(c.frontServer.parentSpanId, c.curl.spanId);
    assert.equal(c.frontClient.parentSpanId, c.frontServer.spanId);
    assert.equal(c.downstream.parentSpanId, c.frontClient.spanId);
    assert.equal(new Set([c.curl, c.frontServer, c.frontClient, c.downstream].map((s) => s.traceId)).size, 1);
    assert.ok(c.downstream.endTimeUnixNano <= c.frontClient.endTimeUnixNano, 'clamped into the parent');
  }
  assert.equal(new Set(out.map((s) => s.traceId)).size, 4);
  assert.ok(l.counters['timestamps.clamped']! > 0);
});

test('trace_links: ambiguous thread windows (two SERVER exchanges open on one thread) give no thread link, and the process none after', () => {
  const l = linker();
  const s1 = span({ kind: 'server', pid: 50, thread: 51, conn: 'a', port: 1, t: [0, 1, 9, 10], since: 9 });
  const s2 = span({ kind: 'server', pid: 50, thread: 51, conn: 'b', port: 2, t: [0.5, 1.5, 9.5, 11] });
  const c = span({ kind: 'client', pid: 50, thread: 51, conn: 'c', port: 3, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 5] });
  l.add([c], 0);
  l.add([s1], 1);
  l.add([s2], 2);
  l.tick(5000);
  // s1 came first and alone, but its thread had moved to another server connection meanwhile
  // (the http processor's servingSince, set below for s1 as the real processor would).
  assert.equal(c.parentSpanId, undefined);
  assert.ok(l.counters['thread.ambiguous']! >= 1);
  // Later, a clean single exchange on the same process: still refused (the process multiplexes).
  const s3 = span({ kind: 'server', pid: 50, thread: 52, conn: 'd', port: 4, t: [100, 101, 109, 110] });
  const c3 = span({ kind: 'client', pid: 50, thread: 52, conn: 'e', port: 5, serverPort: 9, remote: '192.0.2.1', since: 100, t: [102, 103, 104, 105] });
  l.add([c3, s3], 6000);
  l.tick(9000);
  assert.equal(c3.parentSpanId, undefined);
  assert.ok(l.counters['thread.concurrent_process']! >= 1);
  assert.equal(l.counters['links.thread'], 0);
});

test('trace_links: a CLIENT exchange not entirely inside the server window, or on a shared connection, is not linked', () => {
  const l = linker();
  const s = span({ kind: 'server', pid: 60, thread: 61, conn: 'a', port: 1, t: [0, 1, 9, 10] });
  const early = span({ kind: 'client', pid: 60, thread: 61, conn: 'b', port: 2, serverPort: 9, remote: '192.0.2.1', since: 0, t: [0.5, 2, 3, 4] }); // starts before the request was read
  const late = span({ kind: 'client', pid: 60, thread: 61, conn: 'c', port: 3, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 9.5] }); // ends after the response began
  const shared = span({ kind: 'client', pid: 60, thread: -1, conn: 'd', port: 4, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 5] });
  const out = [...l.add([early, late, shared], 0), ...l.add([s], 1), ...l.tick(5000)];
  assert.equal(out.length, 4);
  for (const c of [early, late, shared]) assert.equal(c.parentSpanId, undefined);
  assert.equal(l.counters['thread.shared_connection'], 1);
});

test('trace_links: rule 3 — no thread links in node, Go binaries or a Python main thread', () => {
  const goBin = goBinary();
  const cases: Array<[string, Partial<Ex>, string]> = [
    ['node', { pid: 70, exe: 'node', thread: 71 }, 'thread.event_loop'],
    ['python main thread', { pid: 72, exe: 'python3.12', thread: 72 }, 'thread.main_thread'],
  ];
  if (goBin !== null) {
    exeLink(74, goBin);
    cases.push(['go', { pid: 74, exe: 'server', thread: 75 }, 'thread.go']);
  }
  for (const [what, who, counter] of cases) {
    const l = linker();
    const s = span({ kind: 'server', conn: 'a', port: 1, t: [0, 1, 9, 10], pid: 0, ...who });
    const c = span({ kind: 'client', conn: 'b', port: 2, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 5], pid: 0, ...who });
    const out = [...l.add([c], 0), ...l.add([s], 1), ...l.tick(5000)];
    assert.equal(out.length, 2, what);
    assert.equal(c.parentSpanId, undefined, what);
    assert.ok(l.counters[counter]! >= 1, `${what}: ${JSON.stringify(l.counters)}`);
    // With the guard off, the same spans are linked by rule 2's other guards alone.
    const open = linker({ eventLoopGuard: false });
    const s2 = span({ kind: 'server', conn: 'a', port: 1, t: [0, 1, 9, 10], pid: 0, ...who });
    const c2 = span({ kind: 'client', conn: 'b', port: 2, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 5], pid: 0, ...who });
    open.add([c2], 0);
    open.add([s2], 1);
    open.tick(5000);
    assert.equal(c2.parentSpanId, s2.spanId, what);
  }
});

test('trace_links: rule 1 — a reused 4-tuple links to the connection that was live; two fitting candidates link neither; mismatched response offsets do not link', () => {
  const r = linker();
  const old = span({ kind: 'client', pid: 10, exe: 'curl', conn: 'old', port: 5555, t: [0, 1, 8, 9] });
  const cur = span({ kind: 'client', pid: 11, exe: 'curl', conn: 'new', port: 5555, t: [20, 21, 28, 29] });
  const srv = span({ kind: 'server', pid: 20, conn: 'srv2', port: 5555, t: [21, 22, 27, 28] });
  r.add([old], 0);
  r.add([srv], 1);
  r.add([cur], 2);
  r.tick(5000);
  assert.equal(srv.parentSpanId, cur.spanId);

  const l = linker();
  const c1 = span({ kind: 'client', pid: 10, exe: 'curl', conn: 'c1', port: 5557, t: [0, 1, 8, 9] });
  const c2 = span({ kind: 'client', pid: 11, exe: 'curl', conn: 'c2', port: 5557, t: [0.5, 1, 8, 10] });
  const s = span({ kind: 'server', pid: 20, conn: 'srv', port: 5557, t: [1, 2, 7, 8] });
  l.add([s], 0);
  l.add([c1, c2], 1);
  l.tick(5000);
  assert.equal(s.parentSpanId, undefined);
  assert.ok(l.counters['connection.ambiguous']! >= 1);

  const m = linker();
  const c = span({ kind: 'client', pid: 10, exe: 'curl', conn: 'x', port: 5556, offset: 100, resOffset: 300, t: [0, 1, 8, 9] });
  const s2 = span({ kind: 'server', pid: 20, conn: 'y', port: 5556, offset: 100, resOffset: 350, t: [1, 2, 7, 8] });
  m.add([s2], 0);
  m.add([c], 1);
  m.tick(5000);
  assert.equal(s2.parentSpanId, undefined);
  assert.ok(m.counters['connection.conflict']! >= 1);
});

test('trace_links: rule 1 — once two sockets are paired, a third with the same endpoints is not taken for either', () => {
  const l = linker();
  const c1 = span({ kind: 'client', pid: 10, exe: 'curl', conn: 'cA', port: 6000, offset: 0, t: [0, 1, 8, 9] });
  const s1 = span({ kind: 'server', pid: 20, conn: 'sA', port: 6000, offset: 0, t: [1, 2, 7, 8] });
  l.add([s1, c1], 0);
  l.tick(2000);
  assert.equal(s1.parentSpanId, c1.spanId);
  // The client's next exchange (offset 78) is claimed by a server socket that is not sA.
  const c2 = span({ kind: 'client', pid: 10, exe: 'curl', conn: 'cA', port: 6000, offset: 78, t: [10, 11, 18, 19] });
  const s2 = span({ kind: 'server', pid: 21, conn: 'sB', port: 6000, offset: 78, t: [11, 12, 17, 18] });
  l.add([s2, c2], 2100);
  l.tick(5000);
  assert.equal(s2.parentSpanId, undefined);
  assert.ok(l.counters['connection.conflict']! >= 1);
});

test('trace_links: HTTP/2 — each stream of one connection links to its own stream, whatever the order', () => {
  const l = linker();
  const clients = [1, 3, 5, 7].map((id, i) => span({ kind: 'client', pid: 80, exe: 'node', conn: 'h2c', port: 7000, h2: id, t: [i, i + 1, 20 + i, 21 + i] }));
  const servers = [7, 3, 1, 5].map((id) => {
    const i = [1, 3, 5, 7].indexOf(id);
    return span({ kind: 'server', pid: 81, exe: 'node', conn: 'h2s', port: 7000, h2: id, t: [i + 0.2, i + 1.2, 19 + i, 20 + i] });
  });
  const out = [...l.add(servers, 0), ...l.add(clients, 1)];
  assert.equal(out.length, 8, 'node CLIENT spans do not wait; their servers follow at once');
  for (const s of servers) {
    const p = clients.find((c) => c.spanId === s.parentSpanId)!;
    assert.equal(p.internal!.link!.h2StreamId, s.internal!.link!.h2StreamId);
    assert.equal(p.traceId, s.traceId);
  }
});

test('trace_links: a parent exported before its child keeps its trace id; the late child adopts it', () => {
  const l = linker();
  const front = span({ kind: 'server', pid: 20, thread: 21, conn: 'f', port: 1, t: [0, 1, 9, 10], traceparent: true });
  const out1 = l.add([front], 0);
  assert.deepEqual(out1, [front], 'a traceparent span has its ids: out at once');
  assert.equal(front.traceId, 'feed'.repeat(8));
  const call = span({ kind: 'client', pid: 20, thread: 21, conn: 'c', port: 2, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 5] });
  const out2 = l.add([call], 1);
  assert.deepEqual(out2, [call]);
  assert.equal(call.traceId, front.traceId);
  assert.equal(call.parentSpanId, front.spanId);
  assert.equal(l.counters['links.caller_context'], 1);
  assert.equal(front.parentSpanId, 'cafecafecafecafe', "the caller's parent is left as it was");
});

test('trace_links: caller_context off — traceparent spans pass untouched and take no part', () => {
  const l = linker({ callerContext: false });
  const front = span({ kind: 'server', pid: 20, thread: 21, conn: 'f', port: 1, t: [0, 1, 9, 10], traceparent: true });
  const call = span({ kind: 'client', pid: 20, thread: 21, conn: 'c', port: 2, serverPort: 9, remote: '192.0.2.1', since: 0, t: [2, 3, 4, 5] });
  const own = call.traceId;
  const out = [...l.add([call], 0), ...l.add([front], 1), ...l.tick(5000)];
  assert.equal(out.length, 2);
  assert.equal(call.traceId, own);
  assert.equal(call.parentSpanId, undefined);
});

test('trace_links: memory is bounded — beyond max_spans the oldest waiting span leaves unlinked (counted), nothing is dropped', () => {
  const l = linker({ maxSpans: 3 });
  const waiting = [1, 2, 3, 4, 5].map((i) =>
    span({ kind: 'client', pid: 90, exe: 'curl', thread: 90, conn: `k${i}`, port: 100 + i, since: 0, t: [i, i + 1, i + 2, i + 3] }),
  );
  const out: SpanRecord[] = [];
  for (const s of waiting) out.push(...l.add([s], 0));
  assert.ok(l.windowSize <= 3);
  assert.equal(l.counters['unlinked.capacity'], 2);
  out.push(...l.drain());
  assert.equal(out.length, 5);
  assert.equal(l.counters['spans.in'], l.counters['spans.out']);
});

test('trace_links: a SERVER span whose peer is not on this host, or a unix socket without peer identity, does not wait', () => {
  const l = linker();
  const remote = span({ kind: 'server', pid: 20, conn: 'r', port: 1, t: [0, 1, 2, 3] });
  remote.internal!.conn!.remoteAddr = '198.51.100.7';
  const hostAddr = span({ kind: 'server', pid: 20, conn: 'h', port: 2, t: [0, 1, 2, 3] });
  hostAddr.internal!.conn!.remoteAddr = '10.0.0.5'; // one of this host's addresses: may be local
  const unix = span({ kind: 'server', pid: 20, conn: 'u', port: 3, t: [0, 1, 2, 3] });
  unix.internal!.conn = { family: 0, localAddr: '', localPort: 0, remoteAddr: '', remotePort: 0 };
  assert.deepEqual(l.add([remote, hostAddr, unix], 0), [remote, unix]);
  assert.deepEqual(l.tick(5000), [hostAddr]);
});

test('trace_links: spans without link data (not from the http processor) pass straight through', () => {
  const l = linker();
  const s = span({ kind: 'client', pid: 1, conn: 'z', port: 1, t: [0, 1, 2, 3] });
  delete s.internal!.link;
  assert.deepEqual(l.add([s], 0), [s]);
});

test('trace_links: the Go check reads ELF sections (a Go binary yes, node no, a text file not ELF)', () => {
  const goBin = goBinary();
  if (goBin !== null) assert.equal(isGoBinary(goBin), true);
  assert.equal(isGoBinary(process.execPath), false);
  assert.equal(isGoBinary(__filename), null);
  assert.equal(isGoBinary('/nonexistent/exe'), null);
});

test('trace_links: config defaults and errors name their path', () => {
  const cfg = traceLinksProcessorFactory.parseConfig(undefined, 'processors::trace_links');
  assert.equal(cfg.window, 2000);
  assert.equal(cfg.connection_links && cfg.thread_links && cfg.event_loop_guard && cfg.caller_context, true);
  assert.throws(() => traceLinksProcessorFactory.parseConfig({ windw: '1s' }, 'processors::trace_links'), /processors::trace_links/);
  assert.throws(() => traceLinksProcessorFactory.parseConfig({ max_spans: 0 }, 'processors::trace_links'), /processors::trace_links::max_spans/);
});

function goBinary(): string | null {
  try {
    const root = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
    const bin = path.join(root, 'bin', 'go');
    return fs.existsSync(bin) ? bin : null;
  } catch {
    return null;
  }
}

test('trace_links processor: an internal error passes the batch on unlinked, each span once; shutdown drains what waits', async () => {
  const logs: string[] = [];
  const logger = { debug() {}, info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const cfg = traceLinksProcessorFactory.parseConfig({}, 'processors::trace_links');
  const got: SpanRecord[] = [];
  const p = traceLinksProcessorFactory.create(cfg, { id: 'trace_links', logger: logger as never }, { consumeSpans: (s) => got.push(...s) });
  await p.start();
  const waiting = span({
    kind: 'client',
    pid: process.pid,
    exe: 'curl',
    thread: process.pid + 1, // a live process: its executable is readable
    conn: 'w',
    port: 1,
    since: 0,
    t: [0, 1, 2, 3],
  });
  p.consumeSpans([waiting]);
  assert.equal(got.length, 0, 'it waits for a thread parent');
  const linker = (p as unknown as { linker: { resolve: (n: unknown) => void } }).linker;
  const real = linker.resolve;
  let calls = 0;
  linker.resolve = function (this: unknown, n: unknown) {
    if (calls++ === 1) throw new Error('boom');
    return real.call(this, n);
  };
  const batch = [1, 2, 3].map((i) => span({ kind: 'client', pid: 97, exe: 'curl', thread: 97, conn: `b${i}`, port: 10 + i, t: [0, 1, 2, 3] }));
  p.consumeSpans(batch);
  linker.resolve = real;
  assert.equal(new Set(got).size, got.length, 'no span twice');
  for (const s of batch) assert.ok(got.includes(s));
  assert.equal(p.stats()['errors'], 1);
  assert.ok(logs.some((l) => /internal error, spans passed on unlinked/.test(l)));
  await p.shutdown();
  assert.equal(got.filter((s) => s === waiting).length, 1, 'drained at shutdown');
  assert.equal(got.length, 4);
  await p.shutdown(); // idempotent
  assert.ok(
    logs.some((l) => /4 span\(s\) in, 4 out/.test(l)),
    logs.join('\n'),
  );
});

test("trace_links: unix sockets — HTTP/2 streams link by the client end's inode number; other inodes or HTTP/1 (offsets unproven without a handshake role) do not", () => {
  const l = linker();
  const unix = (s: SpanRecord, inode: number, peer: number, role: 'client' | 'server' | 'unknown' = 'unknown') => {
    s.internal!.conn = { family: 0, localAddr: '', localPort: 0, remoteAddr: '', remotePort: 0 };
    Object.assign(s.internal!.link!, { inode, peerInode: peer, role });
    return s;
  };
  const c = unix(span({ kind: 'client', pid: 80, exe: 'node', conn: 'uc', port: 0, h2: 3, t: [0, 1, 8, 9] }), 1001, 1002);
  const s = unix(span({ kind: 'server', pid: 81, exe: 'node', conn: 'us', port: 0, h2: 3, t: [1, 2, 7, 8] }), 1002, 1001);
  const other = unix(span({ kind: 'server', pid: 82, exe: 'node', conn: 'uo', port: 0, h2: 3, t: [1, 2, 7, 8] }), 1003, 1004);
  // The client saw its peer before the server accepted it: no inode for the peer, still paired by its own.
  const early = unix(span({ kind: 'client', pid: 80, exe: 'node', conn: 'ec', port: 0, h2: 1, t: [0, 1, 8, 9] }), 3001, 0);
  const earlyS = unix(span({ kind: 'server', pid: 81, exe: 'node', conn: 'es', port: 0, h2: 1, t: [1, 2, 7, 8] }), 3002, 3001);
  const h1c = unix(span({ kind: 'client', pid: 80, exe: 'node', conn: 'hc', port: 0, t: [0, 1, 8, 9] }), 2001, 2002);
  const h1s = unix(span({ kind: 'server', pid: 81, exe: 'node', conn: 'hs', port: 0, t: [1, 2, 7, 8] }), 2002, 2001);
  l.add([s, other, h1s, earlyS], 0);
  l.add([c, h1c, early], 1);
  l.tick(5000);
  assert.equal(s.parentSpanId, c.spanId);
  assert.equal(earlyS.parentSpanId, early.spanId);
  assert.equal(other.parentSpanId, undefined);
  assert.equal(h1s.parentSpanId, undefined);
});
