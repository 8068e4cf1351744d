// The http processor component: CaptureChunks in, SpanRecords out.
//
// Per connection (connId), a Conn (conn.ts): two DirStreams reassemble the byte streams, a detector picks the
// protocol from the first bytes, and the protocol handler parses and pairs exchanges. Settled
// exchanges become spans, handed to the consumer in one batch per consumeChunks call (and one
// per idle sweep). Everything is bounded: tracked connections (LRU eviction), reorder windows,
// header sections, paused data, pending requests, captured bodies, detection buffers.

import type { ChunkProcessorComponent, CreateContext, Stats } from '../../../core/component';
import type { Logger } from '../../../core/logger';
import type { CaptureChunk, SpanConsumer, SpanRecord } from '../../../core/types';
import type { HttpProcessorConfig } from '../config';
import { Conn, type ConnOwner } from './conn';
import type { HandlerLimits, Protocol, ProtocolDetector } from './contract';
import { Counters } from './counters';
import type { HttpExchange } from '../model/exchange';
import { ResourceCache } from './resource';
import { buildSpan } from '../spans/build';
import type { SpanContributor } from '../spans/contributor';
import { IdGenerator } from '../spans/trace-context';
import { PROTOCOLS } from '../protocols';

/** Reported even at zero, so the exit summary shows that nothing was lost here. */
const ALWAYS_REPORTED_DROPS: Stats = Object.fromEntries(
  ['gap', 'truncated', 'malformed', 'too_large', 'pending_overflow', 'unpaired_response', 'unpairable_request', 'resync_bytes', 'after_shutdown'].map((r) => [
    `drops.${r}`,
    0,
  ]),
);

/** Threads whose serving history is kept (trace_links' thread rule); the oldest go first. */
const MAX_THREADS = 65536;

/** pid and tid in one number (both below 2^22, PID_MAX_LIMIT): a cheap Map key on the chunk path. */
const threadKey = (pid: number, tid: number) => pid * 0x400000 + tid;

/** Internal errors logged per processor (all are counted in 'errors'). */
const MAX_ERROR_LOGS = 10;

export interface HttpProcessorOptions {
  /** Root of the proc filesystem (tests use a fake tree). */
  procRoot?: string;
  /** Protocol detectors, tried in order (default: those of PROTOCOLS, protocols.ts). */
  detectors?: ProtocolDetector[];
}

export class HttpProcessor implements ChunkProcessorComponent, ConnOwner {
  readonly counters = new Counters();
  readonly limits: HandlerLimits;
  readonly detectors: ProtocolDetector[];
  /** HTTP/1 Upgrade token → the protocol that takes the connection over. */
  readonly upgrades = new Map<string, Protocol>();
  private readonly contributors: readonly SpanContributor[] = PROTOCOLS.flatMap((p) => p.spans ?? []);
  private readonly conns = new Map<string, Conn>();
  /** Connections with chunks waiting behind a hole. */
  private readonly holding = new Set<Conn>();
  private readonly resources: ResourceCache;
  private readonly ids = new IdGenerator();
  /** Per thread (pid/tid): the non-client connection it last moved bytes of, and since when (its first chunk there). */
  private readonly threadServing = new Map<number, { connId: string; since: bigint }>();
  private readonly log: Logger;
  private out: SpanRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private epoch = 0;
  private errorLogs = 0;
  private stopped = false;
  // The hottest counters, kept as plain fields (merged into stats()).
  private nChunks = 0;
  private nBytes = 0;
  private nExchanges = 0;

  constructor(
    private readonly cfg: HttpProcessorConfig,
    ctx: CreateContext,
    private readonly consumer: SpanConsumer,
    opts: HttpProcessorOptions = {},
  ) {
    this.log = ctx.logger;
    this.limits = {
      captureBodies: cfg.capture_bodies,
      maxBodyBytes: cfg.max_body_bytes,
      maxHeaderBytes: cfg.max_header_bytes,
      maxPendingRequests: cfg.max_pending_requests,
      inspectBodies: cfg.inspect_bodies === 'always',
      maxInspectBytes: cfg.max_inspect_bytes,
      captureHeaders: new Set(cfg.capture_headers),
    };
    this.detectors = opts.detectors ?? PROTOCOLS.map((p) => p.detector(this.limits));
    for (const p of PROTOCOLS) if (p.takeOver !== undefined) for (const t of p.upgradeTokens ?? []) this.upgrades.set(t, p);
    this.resources = new ResourceCache(cfg.service_names, cfg.command_line, opts.procRoot);
    // Span processors downstream read bodies (span.internal): with inspect_bodies `auto`, keep JSON/SSE POST bodies.
    for (const reader of ctx.bodiesReadBy ?? []) {
      if (cfg.inspect_bodies === 'never') this.log.warn(`${reader} reads request/response bodies, but inspect_bodies is never: it will see none`);
      else {
        this.limits.inspectBodies = true;
        this.log.debug(`keeps JSON/SSE bodies for ${reader}`);
      }
    }
  }

  async start(): Promise<void> {
    if (this.stopped || this.timer !== null) return;
    const every = Math.max(5, Math.min(this.cfg.idle_timeout / 2, 10_000));
    this.timer = setInterval(() => this.sweep(), every);
    this.timer.unref();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const conn of this.conns.values()) this.guard(conn, () => conn.abort('shutdown'));
    this.conns.clear();
    this.holding.clear();
    this.deliver();
  }

  stats(): Stats {
    const st: Stats = { ...ALWAYS_REPORTED_DROPS, ...this.counters.values, 'connections.active': this.conns.size };
    if (this.nChunks > 0) st['chunks'] = this.nChunks;
    if (this.nBytes > 0) st['bytes'] = this.nBytes;
    if (this.nExchanges > 0) st['exchanges'] = this.nExchanges;
    return st;
  }

  /** Bytes held by all tracked connections (for tests and self-metrics). */
  bufferedBytes(): number {
    let n = 0;
    for (const c of this.conns.values()) n += c.bufferedBytes();
    return n;
  }

  get trackedConnections(): number {
    return this.conns.size;
  }

  consumeChunks(chunks: CaptureChunk[]): void {
    if (this.stopped) {
      this.counters.add('drops.after_shutdown', chunks.length);
      return;
    }
    this.epoch++;
    const now = performance.now();
    for (const c of chunks) {
      let conn: Conn | undefined;
      try {
        if (c.kind !== 'data' && c.kind !== 'close') {
          this.otherChunk(c);
          continue;
        }
        conn = this.lookup(c, now);
        if (conn === undefined) continue;
        this.onChunk(conn, c);
      } catch (e) {
        this.internalError(conn, e);
      }
    }
    if (this.holding.size > 0) this.expireHoles();
    this.deliver();
  }

  /** Flushes connections idle for idle_timeout (run by the timer; public for tests). */
  sweep(now = performance.now()): void {
    if (this.stopped) return;
    for (const [id, conn] of this.conns) {
      if (now - conn.lastActive < this.cfg.idle_timeout) break; // LRU order: the rest are newer
      this.conns.delete(id);
      this.counters.add('connections.idle');
      this.guard(conn, () => conn.abort('idle'));
    }
    this.deliver();
  }

  emitExchange(ex: HttpExchange, conn: Conn): void {
    const { resource, args } = this.resources.get(ex.pid, ex.comm);
    const span = buildSpan(ex, {
      meta: conn.meta,
      resource,
      ids: this.ids,
      contributors: this.contributors,
      captureBodies: this.limits.captureBodies,
      maxBodyBytes: this.limits.maxBodyBytes,
      thread: conn.thread,
      servingSince: conn.thread < 0 ? -1n : this.servingSince(ex.pid, conn.thread, ex.clientSide ? null : conn.meta.connId),
      processStartNs: this.resources.startTimeOf(ex.pid),
    });
    span.internal!.processArgs = args;
    this.out.push(span);
    this.nExchanges++;
    if (ex.incomplete !== null) {
      this.counters.add('exchanges.incomplete');
      this.counters.add(`exchanges.incomplete.${ex.incomplete}`);
    }
  }

  // ---- internals ----

  /** A thread moved bytes of a server (or unknown-role) connection: note when it last switched connections. */
  private noteServing(c: CaptureChunk): void {
    const key = threadKey(c.pid, c.tid);
    const e = this.threadServing.get(key);
    if (e === undefined) {
      if (this.threadServing.size >= MAX_THREADS) this.threadServing.delete(this.threadServing.keys().next().value!);
      this.threadServing.set(key, { connId: c.conn.connId, since: c.timeUnixNano });
    } else if (e.connId !== c.conn.connId) {
      e.connId = c.conn.connId;
      e.since = c.timeUnixNano;
    }
  }

  /**
   * Since when the thread has served only its current server connection: for a server exchange,
   * -1n unless that is the exchange's own connection; for a client exchange, any (-1n: the thread
   * never served, so no server exchange of it can be the client's parent).
   */
  private servingSince(pid: number, tid: number, connId: string | null): bigint {
    const e = this.threadServing.get(threadKey(pid, tid));
    return e !== undefined && (connId === null || e.connId === connId) ? e.since : -1n;
  }

  private lookup(c: CaptureChunk, now: number): Conn | undefined {
    const id = c.conn.connId;
    let conn = this.conns.get(id);
    if (conn === undefined) {
      if (c.kind === 'close') {
        this.nChunks++;
        return undefined; // a connection we never saw data of
      }
      while (this.conns.size >= this.cfg.max_connections) {
        const [oldId, old] = this.conns.entries().next().value as [string, Conn];
        this.conns.delete(oldId);
        this.counters.add('connections.evicted');
        this.guard(old, () => old.abort('evicted'));
      }
      conn = new Conn(c.conn, c, this);
      this.conns.set(id, conn);
      this.counters.add('connections.tracked');
      conn.epoch = this.epoch;
    } else if (conn.epoch !== this.epoch) {
      // Move to the LRU tail (once per batch).
      this.conns.delete(id);
      this.conns.set(id, conn);
      conn.epoch = this.epoch;
    }
    conn.lastActive = now;
    return conn;
  }

  /**
   * Chunks that are neither data nor close. A receiver may describe the process behind a
   * connection ('process', with `process: {pid, startTimeNs, exe, args}`) while it is alive: that
   * feeds the resource cache. Other kinds are counted and skipped (forward compatible).
   */
  private otherChunk(c: CaptureChunk): void {
    this.nChunks++;
    const info = c.process;
    if (c.kind === 'process' && info !== undefined) {
      this.resources.describe(info.pid, info.startTimeNs, info.exe, info.args, c.comm);
    } else this.counters.add('chunks.unknown_kind');
  }

  private onChunk(conn: Conn, c: CaptureChunk): void {
    this.nChunks++;
    if (c.kind === 'close') {
      this.conns.delete(c.conn.connId);
      this.counters.add('connections.closed');
      conn.close();
      return;
    }
    this.nBytes += c.data.length;
    conn.pid = c.pid;
    conn.tid = c.tid;
    if (conn.thread !== c.tid) conn.thread = -1;
    if (c.conn.role !== 'client') this.noteServing(c);
    conn.comm = c.comm;
    if (conn.status === 'ignored') {
      this.counters.add('bytes.ignored', c.data.length);
      return;
    }
    const [mine, theirs] = c.direction === 'egress' ? [conn.egress, conn.ingress] : [conn.ingress, conn.egress];
    // Keep the two directions causal: data held behind a hole on the other side that is older
    // than this chunk will not be completed in time to matter; declare the hole now.
    if (theirs.holding && theirs.heldTime <= c.timeUnixNano) {
      this.counters.add('gaps.timeout');
      theirs.flush(conn);
    }
    if (conn.isIgnored()) return;
    if (mine.push(c, conn, this.epoch)) this.holding.add(conn);
  }

  /** Holes that already waited a whole batch are declared gaps (a batch boundary is the grace). */
  private expireHoles(): void {
    for (const conn of this.holding) {
      for (const s of [conn.egress, conn.ingress]) {
        if (s.holding && s.holdEpoch < this.epoch) {
          this.counters.add('gaps.timeout');
          this.guard(conn, () => s.flush(conn));
        }
      }
      if (!conn.egress.holding && !conn.ingress.holding) this.holding.delete(conn);
    }
  }

  /** Runs fn for a connection; an exception stops tracking it (counted) instead of escaping. */
  private guard(conn: Conn, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.internalError(conn, e);
    }
  }

  private internalError(conn: Conn | undefined, e: unknown): void {
    this.counters.add('errors');
    if (this.errorLogs < MAX_ERROR_LOGS) {
      this.errorLogs++;
      this.log.warn(`internal error on connection ${conn?.meta.connId ?? '?'}: ${(e as Error)?.stack ?? String(e)}`);
    }
    if (conn !== undefined) {
      try {
        conn.release(); // stays in the map as ignored until it closes or goes idle
      } catch {
        // nothing more to do
      }
    }
  }

  private deliver(): void {
    if (this.out.length === 0) return;
    const batch = this.out;
    this.out = [];
    this.counters.add('spans', batch.length);
    try {
      this.consumer.consumeSpans(batch);
    } catch (e) {
      this.counters.add('errors.consumer');
      if (this.errorLogs < MAX_ERROR_LOGS) {
        this.errorLogs++;
        this.log.warn(`span consumer threw: ${(e as Error)?.message ?? String(e)}`);
      }
    }
  }
}
