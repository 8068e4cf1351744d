// Joins spans of one host into traces (see README.md in this folder for the rules).
//
// Spans arrive when their exchange completes, so a child usually arrives before its parent
// (the downstream answers before the front does). A span that may still get a parent waits,
// at most `windowMs`; a span whose parent is known and already exported adopts the parent's
// trace id at once. A span is exported once its own trace id is final: parents never change
// after they leave, children take their parent's ids. Every node stays indexed for the window
// (so a late child still finds its exported parent), and the window holds at most `maxSpans`
// nodes: the oldest leave first, unlinked if they were waiting (counted).

import { networkInterfaces } from 'node:os';
import { SpanKind, type LinkInfo, type SpanRecord } from '../../core/types';
import { ATTR_PROCESS_EXECUTABLE_NAME } from '../../shared/resource-attributes';
import type { RuntimeClassifier } from './runtime';

export interface LinkerOptions {
  windowMs: number;
  maxSpans: number;
  /** Rule 1: the SERVER end of a local connection is the child of its CLIENT end. */
  connectionLinks: boolean;
  /** Rule 2: a CLIENT exchange inside a thread's only SERVER exchange is its child. */
  threadLinks: boolean;
  /** Rule 3: no thread links in event-loop or green-thread runtimes. */
  eventLoopGuard: boolean;
  /** Rule 4: spans carrying a caller's traceparent keep it, and the chain below them joins its trace. */
  callerContext: boolean;
  /** Largest clock disagreement tolerated between the two ends of a connection, in ns. */
  slackNs: bigint;
  runtime: RuntimeClassifier;
  /** This host's addresses (a SERVER span waits for a CLIENT parent only when its peer is one); default: the interfaces'. */
  localAddresses?: () => Set<string>;
}

type State = 'waiting' | 'child' | 'free' | 'done';

interface Node {
  /** Null once exported (what later children need is kept below). */
  span: SpanRecord | null;
  readonly link: LinkInfo;
  readonly kind: number;
  readonly pid: number;
  readonly exe: string;
  readonly arrived: number;
  /** Rule 1 key (client endpoint > server endpoint | exchange), or null. */
  readonly connKey: string | null;
  /** Rule 2 key (pid/start/thread) of a span that may be a thread parent or child, or null. */
  readonly threadKey: string | null;
  state: State;
  parent: Node | null;
  children: Node[] | null;
  traceId: string;
  spanId: string;
  traceState: string | undefined;
  start: bigint;
  end: bigint;
  /** Rooted at a caller's traceparent (rule 4). */
  callerRooted: boolean;
  /** A CLIENT span whose SERVER end is linked (one exchange has one server end). */
  hasServerEnd: boolean;
  /** Rule 3's verdict on the span's process and thread, once asked (so a refusal counts once). */
  eligible: boolean | undefined;
}

const ZERO = 0n;
const SERVERS_PER_THREAD = 8;
const CLIENTS_PER_THREAD = 256;
/** Process incarnations remembered as multiplexing (the oldest are forgotten first). */
const MAX_CONCURRENT_PROCESSES = 4096;

/** IPv4-mapped IPv6 addresses read as IPv4 (a dual-stack server sees its IPv4 peers like that). */
const normAddr = (a: string) => (a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a);

function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(normAddr(i.address));
  return out;
}

const isLoopback = (a: string) => a.startsWith('127.') || a === '::1';

export class Linker {
  readonly counters: Record<string, number> = {
    'spans.in': 0,
    'spans.out': 0,
    'links.connection': 0,
    'links.thread': 0,
    'links.caller_context': 0,
    'caller_context.kept': 0,
    'connection.ambiguous': 0,
    'connection.conflict': 0,
    'thread.ambiguous': 0,
    'thread.event_loop': 0,
    'thread.go': 0,
    'thread.unknown_runtime': 0,
    'thread.main_thread': 0,
    'thread.shared_connection': 0,
    'thread.concurrent_process': 0,
    'released.no_parent': 0,
    'unlinked.capacity': 0,
    'missed.late_parent': 0,
    'timestamps.clamped': 0,
  };
  /** Nodes in arrival order: window[head..] are in it (a queue; the dead prefix is cut off now and then). */
  private window: Node[] = [];
  private head = 0;
  private readonly byConn = new Map<string, Node[]>();
  /**
   * Rule 2 candidates per thread, newest last, capped: a thread-per-request thread completes its
   * server exchanges one after another, so only its latest few matter (SERVER spans), and the
   * calls made inside one exchange (CLIENT spans) are bounded too.
   */
  private readonly serversByThread = new Map<string, Node[]>();
  private readonly clientsByThread = new Map<string, Node[]>();
  /** Each end of a connection seen linked to its other end (connId → connId), bounded with the window. */
  private peers = new Map<string, string>();
  /** The previous generation of `peers` (two generations bound it without scanning). */
  private oldPeers = new Map<string, string>();
  /** Process incarnations seen serving two exchanges at once on one thread: no thread links. */
  private readonly concurrent = new Set<string>();
  private out: SpanRecord[] = [];
  private local: Set<string> | null = null;
  private localAt = 0;

  constructor(private readonly o: LinkerOptions) {}

  get held(): number {
    let n = 0;
    for (let i = this.head; i < this.window.length; i++) if (this.window[i]!.state === 'waiting' || this.window[i]!.state === 'child') n++;
    return n;
  }

  get windowSize(): number {
    return this.window.length - this.head;
  }

  /**
   * Takes spans in, returns the spans whose ids are final (in no particular order). A batch is
   * indexed whole before any of it is joined, so candidates arriving together see each other.
   */
  add(spans: SpanRecord[], now: number): SpanRecord[] {
    const nodes: Node[] = [];
    for (const s of spans) {
      const n = this.admit(s, now);
      if (n !== null) nodes.push(n);
    }
    for (const n of nodes) this.resolve(n);
    this.expire(now);
    return this.take();
  }

  /** Releases what waited longer than the window (the timer's tick). */
  tick(now: number): SpanRecord[] {
    this.expire(now);
    return this.take();
  }

  /** Releases everything (shutdown). */
  drain(): SpanRecord[] {
    for (let i = this.head; i < this.window.length; i++) if (this.window[i]!.state === 'waiting') this.release(this.window[i]!, 'released.no_parent');
    this.window = [];
    this.head = 0;
    this.byConn.clear();
    this.serversByThread.clear();
    this.clientsByThread.clear();
    return this.take();
  }

  private take(): SpanRecord[] {
    const o = this.out;
    this.out = [];
    this.counters['spans.out'] += o.length;
    return o;
  }

  // ---- arrival ----

  /** Indexes a span; null when it passes straight through. */
  private admit(span: SpanRecord, now: number): Node | null {
    this.counters['spans.in']++;
    const link = span.internal?.link;
    if (link === undefined) {
      this.out.push(span); // not from the http processor: nothing to join it by
      return null;
    }
    const fromCaller = span.parentSpanId !== undefined; // the http processor sets it only from a valid traceparent
    if (fromCaller && !this.o.callerContext) {
      this.out.push(span); // rule 4 off: header-carrying spans are neither parents nor children
      return null;
    }
    const node = this.makeNode(span, link, now, fromCaller);
    if (node.kind === SpanKind.CLIENT && this.o.threadLinks && link.thread < 0) this.counters['thread.shared_connection']++;
    this.window.push(node);
    if (node.connKey !== null) push(this.byConn, node.connKey, node);
    if (node.threadKey !== null) {
      if (node.kind === SpanKind.SERVER) push(this.serversByThread, node.threadKey, node, SERVERS_PER_THREAD);
      else push(this.clientsByThread, node.threadKey, node, CLIENTS_PER_THREAD);
    }
    return node;
  }

  private resolve(node: Node): void {
    // Claimed as a child by a span of the same batch already: it only claims its own children.
    const attached = node.state !== 'free';
    let parent: Node | null = null;
    if (!attached && !node.callerRooted) parent = node.kind === SpanKind.SERVER ? this.connectionParent(node) : this.threadParent(node);
    // Its children, if they are waiting.
    if (node.kind === SpanKind.CLIENT) this.claimConnectionChildren(node);
    else this.claimThreadChildren(node);

    if (attached) return;
    if (parent !== null && this.attach(node, parent)) return;
    if (node.callerRooted) {
      this.counters['caller_context.kept']++;
      this.finalize(node);
    } else if (this.mayWait(node)) node.state = 'waiting';
    else this.finalize(node);
  }

  private makeNode(span: SpanRecord, link: LinkInfo, now: number, fromCaller: boolean): Node {
    const exe = String(span.resource.attributes[ATTR_PROCESS_EXECUTABLE_NAME] ?? '');
    const pid = span.internal?.pid ?? -1;
    return {
      span,
      link,
      kind: span.kind,
      pid,
      exe,
      arrived: now,
      connKey: this.o.connectionLinks ? connKeyOf(span, link) : null,
      threadKey: this.threadCandidate(span.kind, link, pid) ? `${pid}/${link.processStartNs}/${link.thread}` : null,
      state: 'free',
      parent: null,
      children: null,
      traceId: span.traceId,
      spanId: span.spanId,
      traceState: span.traceState,
      start: span.startTimeUnixNano,
      end: span.endTimeUnixNano,
      callerRooted: fromCaller,
      hasServerEnd: false,
      eligible: undefined,
    };
  }

  /**
   * Can rule 2 use this span at all: one thread moved all of its connection, and that thread was
   * serving (a CLIENT span: some server connection; a SERVER span: its own, HTTP/1).
   */
  private threadCandidate(kind: number, l: LinkInfo, pid: number): boolean {
    if (!this.o.threadLinks || l.thread < 0 || pid < 0 || l.servingSince < ZERO) return false;
    return kind === SpanKind.CLIENT || (kind === SpanKind.SERVER && l.h2StreamId < 0);
  }

  /** May a parent still come for this span (so it should wait)? */
  private mayWait(n: Node): boolean {
    if (n.kind === SpanKind.SERVER) {
      const conn = n.span!.internal!.conn!; // (a connKey implies it)
      return n.connKey !== null && (conn.family === 0 || this.isLocal(normAddr(conn.remoteAddr))); // a unix peer is on this host
    }
    // A thread parent's request is read on this thread before the call starts: a thread that
    // was serving nothing then (the http processor's servingSince) has none to wait for.
    if (n.kind !== SpanKind.CLIENT || n.link.servingSince < ZERO || n.link.servingSince > n.link.requestStart) return false;
    return this.threadEligible(n); // a refusal here is counted: the call was made while serving
  }

  private isLocal(addr: string): boolean {
    if (isLoopback(addr)) return true;
    const now = Date.now();
    if (this.local === null || now - this.localAt > 10_000) {
      this.local = (this.o.localAddresses ?? hostAddresses)();
      this.localAt = now;
    }
    return this.local.has(addr);
  }

  // ---- rule 1: both ends of one connection ----

  /** The CLIENT end of this SERVER span's exchange, when exactly one fits. */
  private connectionParent(server: Node): Node | null {
    if (server.connKey === null) return null;
    const fits = (this.byConn.get(server.connKey) ?? []).filter((c) => c.kind === SpanKind.CLIENT && this.sameExchange(c, server));
    if (fits.length > 1 || (fits.length === 1 && fits[0]!.hasServerEnd)) {
      this.counters['connection.ambiguous']++;
      return null;
    }
    return fits[0] ?? null;
  }

  /** SERVER spans waiting for this CLIENT span: each becomes its child when this is its only fit. */
  private claimConnectionChildren(client: Node): void {
    if (client.connKey === null) return;
    const list = this.byConn.get(client.connKey)!;
    const servers = list.filter((s) => s.kind === SpanKind.SERVER && s.parent === null && !s.callerRooted && this.sameExchange(client, s));
    if (servers.length === 0) return;
    const s = servers[0]!;
    const otherClients = list.some((c) => c !== client && c.kind === SpanKind.CLIENT && this.sameExchange(c, s));
    if (servers.length > 1 || otherClients) {
      this.counters['connection.ambiguous']++;
      return;
    }
    if (s.state === 'waiting') this.attach(s, client);
    else if (s.state === 'done') this.counters['missed.late_parent']++;
  }

  /**
   * Same exchange seen from both ends: same key (mirrored endpoints, same request offset or
   * stream id), two sockets, consistent response offsets, the server's view inside the client's
   * (within the clock slack), and ends never seen paired with another connection.
   */
  private sameExchange(c: Node, s: Node): boolean {
    const cl = c.link;
    const sl = s.link;
    if (cl.connId === sl.connId) return false;
    if (cl.responseOffset >= 0 && sl.responseOffset >= 0 && cl.responseOffset !== sl.responseOffset) {
      this.counters['connection.conflict']++;
      return false;
    }
    const slack = this.o.slackNs;
    // The server reads the request after the client starts it, and before the client has the answer...
    if (sl.requestStart + slack < cl.requestStart) return false;
    if (cl.responseStart !== ZERO && sl.requestStart > cl.responseStart + slack) return false;
    // ...and has written all of its answer by the time the client read the last of it.
    if (cl.responseEnd !== ZERO && sl.responseEnd !== ZERO && sl.responseEnd > cl.responseEnd + slack) return false;
    const cPeer = this.peers.get(cl.connId) ?? this.oldPeers.get(cl.connId);
    const sPeer = this.peers.get(sl.connId) ?? this.oldPeers.get(sl.connId);
    if ((cPeer !== undefined && cPeer !== sl.connId) || (sPeer !== undefined && sPeer !== cl.connId)) {
      this.counters['connection.conflict']++;
      return false;
    }
    return true;
  }

  // ---- rule 2: a thread's only SERVER exchange ----

  private threadEligible(n: Node): boolean {
    if (n.threadKey === null) return false;
    return (n.eligible ??= this.judge(n));
  }

  private judge(n: Node): boolean {
    const count = (k: string) => {
      this.counters[k]!++;
      return false;
    };
    const procKey = `${n.pid}/${n.link.processStartNs}`;
    if (this.concurrent.has(procKey)) return count('thread.concurrent_process');
    if (this.o.eventLoopGuard) {
      const v = this.o.runtime.verdict(n.pid, n.link.processStartNs, n.exe);
      if (v === 'event_loop') return count('thread.event_loop');
      if (v === 'go') return count('thread.go');
      if (v === 'unknown') return count('thread.unknown_runtime');
      if (!this.o.runtime.allowsThread(n.pid, n.link.thread, n.exe)) return count('thread.main_thread');
    }
    return true;
  }

  /** The SERVER exchange open on this CLIENT span's thread for its whole duration, when provably the only one. */
  private threadParent(client: Node): Node | null {
    if (client.threadKey === null) return null;
    const servers = (this.serversByThread.get(client.threadKey) ?? []).filter((s) => encloses(s, client));
    if (servers.length === 0) return null;
    if (!this.threadEligible(client)) return null;
    const s = servers[0]!;
    return servers.length === 1 && this.aloneOnThread(s) ? s : null;
  }

  private claimThreadChildren(server: Node): void {
    if (server.threadKey === null) return;
    const waiting = (this.clientsByThread.get(server.threadKey) ?? []).filter((c) => encloses(server, c));
    if (waiting.length === 0) return;
    if (!this.threadEligible(server)) return;
    if (!this.aloneOnThread(server)) return;
    for (const c of waiting) if (c.state === 'waiting') this.attach(c, server);
  }

  /**
   * The thread served only this exchange from its request's first byte to its response's
   * last (an HTTP/1 exchange, see threadCandidate): the thread moved bytes of no other server
   * connection meanwhile (the http processor's servingSince), and no other
   * SERVER exchange of the thread seen here overlaps it. Otherwise the thread serves several
   * requests at once (an event loop), and its process gets no thread links from now on.
   */
  private aloneOnThread(s: Node): boolean {
    const l = s.link;
    const switched = l.servingSince > l.requestStart;
    const overlaps = this.serversByThread.get(s.threadKey!)!.some((o) => o !== s && o.link.requestStart <= endOf(l) && l.requestStart <= endOf(o.link));
    if (!switched && !overlaps) return true;
    this.counters['thread.ambiguous']++;
    if (this.concurrent.size >= MAX_CONCURRENT_PROCESSES) this.concurrent.delete(this.concurrent.values().next().value!);
    this.concurrent.add(`${s.pid}/${s.link.processStartNs}`);
    return false;
  }

  // ---- joining and export ----

  /** Joins child under parent; false (nothing changed) when that would make a cycle. */
  private attach(child: Node, parent: Node): boolean {
    for (let a: Node | null = parent; a !== null; a = a.parent) if (a === child) return false;
    child.parent = parent;
    if (child.kind === SpanKind.SERVER) parent.hasServerEnd = true;
    else this.dropThreadChild(child);
    this.counters[child.kind === SpanKind.SERVER ? 'links.connection' : 'links.thread']!++;
    if (child.kind === SpanKind.SERVER && this.o.connectionLinks) {
      this.peers.set(parent.link.connId, child.link.connId);
      this.peers.set(child.link.connId, parent.link.connId);
    }
    if (parent.state === 'done') this.finalize(child);
    else {
      child.state = 'child';
      (parent.children ??= []).push(child);
    }
    return true;
  }

  /**
   * After an internal error: the spans the linker had ready, plus `batch` as it is (each span
   * once: the batch's nodes are marked done, so they never leave a second time).
   */
  salvage(batch: SpanRecord[]): SpanRecord[] {
    const inBatch = new Set(batch);
    for (let i = this.window.length - 1; i >= this.head; i--) {
      const n = this.window[i]!;
      if (n.span !== null && inBatch.has(n.span)) {
        n.state = 'done';
        n.span = null;
      }
    }
    const seen = new Set(this.out);
    for (const s of batch) if (!seen.has(s)) this.out.push(s);
    return this.take();
  }

  /** Ids are final: take the parent's trace, export, and let waiting children follow. */
  private finalize(n: Node): void {
    if (n.state === 'done') return; // (salvaged after an internal error)
    const span = n.span!;
    const p = n.parent;
    if (p !== null) {
      span.traceId = p.traceId;
      span.parentSpanId = p.spanId;
      if (p.traceState !== undefined) span.traceState = p.traceState;
      else delete span.traceState;
      n.traceId = p.traceId;
      n.traceState = p.traceState;
      n.callerRooted = p.callerRooted;
      if (p.callerRooted) this.counters['links.caller_context']++;
      this.clampInto(span, p);
    }
    n.start = span.startTimeUnixNano;
    n.end = span.endTimeUnixNano;
    n.state = 'done';
    n.span = null;
    if (n.kind === SpanKind.CLIENT) this.dropThreadChild(n);
    this.out.push(span);
    const kids = n.children;
    n.children = null;
    if (kids !== null) for (const k of kids) this.finalize(k);
  }

  /** A child inside its parent's interval (the two ends' timestamps may differ by the clock slack). */
  private clampInto(span: SpanRecord, p: Node): void {
    let clamped = false;
    if (span.startTimeUnixNano < p.start) {
      span.startTimeUnixNano = p.start;
      clamped = true;
    }
    if (span.endTimeUnixNano > p.end) {
      span.endTimeUnixNano = p.end;
      clamped = true;
    }
    if (span.endTimeUnixNano < span.startTimeUnixNano) span.endTimeUnixNano = span.startTimeUnixNano;
    if (clamped) this.counters['timestamps.clamped']++;
  }

  private release(n: Node, why: 'released.no_parent' | 'unlinked.capacity'): void {
    this.counters[why]++;
    this.finalize(n);
  }

  /** A CLIENT span with a parent, or gone, is no one's thread child any more: out of the index. */
  private dropThreadChild(n: Node): void {
    if (n.threadKey !== null) unindex(this.clientsByThread, n.threadKey, n);
  }

  /** The waiting node a held child ultimately waits with. */
  private rootOf(n: Node): Node {
    let r = n;
    while (r.parent !== null && r.state === 'child') r = r.parent;
    return r;
  }

  private expire(now: number): void {
    const limit = now - this.o.windowMs;
    while (this.head < this.window.length) {
      const n = this.window[this.head]!;
      const full = this.window.length - this.head > this.o.maxSpans;
      if (!full && n.arrived > limit) break;
      this.head++;
      if (n.connKey !== null) unindex(this.byConn, n.connKey, n);
      if (n.threadKey !== null) unindex(n.kind === SpanKind.SERVER ? this.serversByThread : this.clientsByThread, n.threadKey, n);
      if (n.state === 'waiting') this.release(n, full ? 'unlinked.capacity' : 'released.no_parent');
      else if (n.state === 'child' && full) {
        // Out of room: its whole tree leaves now, rooted where it waits.
        const root = this.rootOf(n);
        if (root.state === 'waiting') this.release(root, 'unlinked.capacity');
      }
      // (On time, a child waits on with its parent, which arrived later and leaves later.)
    }
    if (this.peers.size > this.o.maxSpans) {
      this.oldPeers = this.peers;
      this.peers = new Map();
    }
    // Drop the queue's dead prefix once it is as long as the rest.
    if (this.head > 1024 && this.head * 2 > this.window.length) {
      this.window = this.window.slice(this.head);
      this.head = 0;
    }
  }
}

/** Rule 1 key: the connection from the client's endpoint to the server's, and the exchange on it. */
function connKeyOf(span: SpanRecord, link: LinkInfo): string | null {
  const conn = span.internal?.conn;
  if (conn === undefined) return null;
  const client = span.kind === SpanKind.CLIENT;
  let exchange: string;
  if (link.h2StreamId >= 0)
    exchange = `#${link.h2StreamId}`; // stream ids are the frames' own: absolute
  else if (link.requestOffset >= 0 && link.role === (client ? 'client' : 'server'))
    exchange = `@${link.requestOffset}`; // offsets are absolute only when the handshake was seen
  else return null;
  if (conn.family === 0) {
    // Unix sockets: the client end's inode number, its own on the CLIENT span, its peer's on the
    // SERVER span. (The client's view of the server end can be 0: the kernel reads it once, maybe
    // before the server accepted.)
    const clientEnd = client ? link.inode : link.peerInode;
    return clientEnd > 0 ? `unix:${clientEnd}${exchange}` : null;
  }
  if (conn.remoteAddr === '') return null;
  const local = `${normAddr(conn.localAddr)}:${conn.localPort}`;
  const remote = `${normAddr(conn.remoteAddr)}:${conn.remotePort}`;
  return `${client ? local : remote}>${client ? remote : local}${exchange}`;
}

/** The last byte of the exchange (the request's when there was no response). */
const endOf = (l: LinkInfo) => (l.responseEnd !== ZERO ? l.responseEnd : l.requestEnd);

/**
 * The client exchange lies between the server's last request byte and its first response byte
 * (on one thread, the syscalls are in order: no slack).
 */
function encloses(s: Node, c: Node): boolean {
  const sl = s.link;
  const cl = c.link;
  return sl.responseStart !== ZERO && cl.responseEnd !== ZERO && sl.requestEnd <= cl.requestStart && cl.responseEnd <= sl.responseStart;
}

function push(m: Map<string, Node[]>, k: string, n: Node, cap = Infinity): void {
  const l = m.get(k);
  if (l === undefined) m.set(k, [n]);
  else if (l.push(n) > cap) l.shift(); // (a waiting CLIENT pushed out still leaves with the window)
}

function unindex(m: Map<string, Node[]>, k: string, n: Node): void {
  const l = m.get(k);
  if (l === undefined) return;
  const i = l.indexOf(n);
  if (i >= 0) l.splice(i, 1);
  if (l.length === 0) m.delete(k);
}
