// HTTP/1.x for one connection: detection by content, two parsers (one per direction) and the
// pairing of responses with requests.
//
// Pairing is FIFO: the k-th final response answers the k-th request. That stays exact while
// both streams are intact, so even a message damaged by a gap is paired when its queue position
// is certain. A gap (or a parse failure) at a place where whole messages may have been lost
// makes the connection "unsynchronised": responses that cannot be tied to a known request are
// dropped (counted), and requests are not queued, until a request starts at a quiescent point
// (no request is waiting for a response and no response is in progress). From there pairing
// resumes. This assumes the client does not pipeline across the gap; it never pairs a response
// with a request that was sent before the gap's lost messages were answered.

import type { Direction, FileOrigin } from '../../../core/types';
import { Http1Parser, type Http1Sink } from './parser';
import { firstLine, parseStartLine, plausibleRequestLine, plausibleStatusLine } from './head';
import { HttpExchange, type HttpMessage, type IncompleteReason } from '../model/exchange';
import type { DetectResult, ByteOrigin, HandlerContext, Handover, ProtocolDetector, ProtocolHandler } from '../core/contract';

const other = (d: Direction): Direction => (d === 'egress' ? 'ingress' : 'egress');

/** What a message boundary candidate starts with: a request line, a status line, or neither. */
export function classifyStart(data: Buffer, maxLine: number): 'request' | 'response' | 'no' | 'more' {
  let pos = 0;
  while (pos < data.length && (data[pos] === 13 || data[pos] === 10)) pos++;
  if (pos >= data.length) return 'more';
  const s = plausibleStatusLine(data, pos);
  const r = s === 'yes' ? 'no' : plausibleRequestLine(data, pos, false);
  if (s === 'no' && r === 'no') return 'no';
  const lf = data.indexOf(10, pos);
  if (lf < 0) return data.length - pos > maxLine ? 'no' : 'more';
  const sl = parseStartLine(firstLine(data.toString('latin1', pos, lf + 1)) ?? '');
  return sl === null ? 'no' : sl.kind;
}

export class Http1Detector implements ProtocolDetector {
  readonly protocol = 'http/1';
  readonly lineBased = true;
  constructor(private readonly maxLine: number) {}

  detect(_dir: Direction, data: Buffer): DetectResult {
    const c = classifyStart(data, this.maxLine);
    return c === 'request' || c === 'response' ? 'match' : c;
  }

  create(ctx: HandlerContext, dir: Direction, data: Buffer): ProtocolHandler {
    // The side that sends a request line is the client.
    const reqDir = classifyStart(data, this.maxLine) === 'response' ? other(dir) : dir;
    return new Http1Handler(ctx, reqDir);
  }
}

export class Http1Handler implements ProtocolHandler, Http1Sink {
  readonly protocol = 'http/1';
  done = false;
  private readonly req: Http1Parser;
  private readonly res: Http1Parser;
  /** Exchanges in request order, not yet emitted. */
  private readonly queue: HttpExchange[] = [];
  private synced = true;
  /** Responses still owed to requests dropped by the pending cap: they are skipped. */
  private skipResponses = 0;
  /**
   * A 101 hands the connection to another protocol (ctx.takeOver): the request that asked (h2c:
   * it becomes HTTP/2 stream 1) and the creator of that protocol's handler, used at the switch.
   */
  private switching: { request: HttpMessage; create: (h: Handover) => ProtocolHandler } | null = null;
  /** After the switch: the handler that took the connection over (HTTP/2 after h2c). */
  private next: ProtocolHandler | null = null;

  constructor(
    private readonly ctx: HandlerContext,
    /** The direction carrying requests (egress: this process is the client). */
    readonly reqDir: Direction,
  ) {
    const opts = ctx.limits;
    this.req = new Http1Parser(true, this, opts, ctx.stats);
    this.res = new Http1Parser(false, this, opts, ctx.stats);
  }

  // ---- ProtocolHandler ----

  onData(dir: Direction, data: Buffer, time: bigint, offset: number, file?: FileOrigin): void {
    if (this.next !== null) this.next.onData(dir, data, time, offset, file);
    else (dir === this.reqDir ? this.req : this.res).push(data, time, offset, file);
  }

  onGap(dir: Direction, bytes: number, time: bigint, reason: 'gap' | 'truncated' | 'skipped', origin?: ByteOrigin): void {
    if (this.next !== null) this.next.onGap(dir, bytes, time, reason, origin);
    else (dir === this.reqDir ? this.req : this.res).gap(bytes, time, reason, origin);
  }

  bytesNeeded(dir: Direction, bytes: number): number {
    if (this.next !== null) return this.next.bytesNeeded?.(dir, bytes) ?? bytes;
    return (dir === this.reqDir ? this.req : this.res).bytesNeeded(bytes);
  }

  onClose(): void {
    this.res.close(); // a close-delimited response ends here
    this.req.close();
    this.settleAll('closed');
    this.next?.onClose();
  }

  flush(reason: IncompleteReason): void {
    this.res.abort(reason);
    this.req.abort(reason);
    this.settleAll(reason);
    this.next?.flush(reason);
  }

  bufferedBytes(): number {
    let n = this.req.bufferedBytes() + this.res.bufferedBytes() + (this.next?.bufferedBytes() ?? 0);
    for (const ex of this.queue) n += ex.req.bodyCaptured + (ex.res?.bodyCaptured ?? 0);
    const cur = this.req.current; // an unpairable request is not in the queue
    if (cur !== null && cur.exchange !== null && cur.exchange.noResponse) n += cur.bodyCaptured;
    return n;
  }

  /** Exchanges waiting (for tests and stats). */
  get pending(): number {
    return this.queue.length;
  }

  // ---- Http1Sink ----

  onRequestHead(msg: HttpMessage): void {
    const ex = new HttpExchange(msg, this.reqDir === 'egress', this.ctx.pid, this.ctx.comm);
    msg.exchange = ex;
    if (!this.synced) {
      if (this.awaiting() === null && !this.res.midMessage) {
        this.synced = true;
        this.ctx.stats.add('resyncs.pairing');
      } else {
        // Its response cannot be told apart from those of messages lost in the gap.
        ex.noResponse = true;
        ex.markIncomplete('gap');
        this.ctx.stats.add('drops.unpairable_request');
        return;
      }
    }
    if (this.queue.length >= this.ctx.limits.maxPendingRequests) {
      const old = this.queue.shift()!;
      this.ctx.stats.add('drops.pending_overflow');
      if (old.res === null && !old.noResponse) this.skipResponses++;
      old.noResponse = true;
      old.markIncomplete('overflow');
      this.emitIfSettled(old, true);
    }
    this.queue.push(ex);
  }

  onResponseHead(msg: HttpMessage): HttpMessage | null {
    if (this.skipResponses > 0) {
      this.skipResponses--;
      this.ctx.stats.add('drops.unpaired_response');
      return null;
    }
    const ex = this.awaiting();
    if (ex === null) {
      this.ctx.stats.add('drops.unpaired_response');
      return null;
    }
    const upgradeTo = msg.head!.status === 101 ? ex.req.head?.upgradeTo : undefined;
    const create = upgradeTo !== undefined ? (this.ctx.takeOver?.(upgradeTo) ?? null) : null;
    if (create !== null) {
      // A protocol that answers the request itself takes over (h2c: on HTTP/2 stream 1); the 101 is not its response.
      this.switching = { request: ex.req, create };
      const i = this.queue.indexOf(ex);
      if (i >= 0) this.queue.splice(i, 1);
      return ex.req;
    }
    ex.res = msg;
    msg.exchange = ex;
    if (this.req.pausedOn === ex.req) {
      const status = msg.head!.status;
      const switched = status === 101 || (ex.req.head!.method === 'CONNECT' && status >= 200 && status < 300);
      if (!switched) this.req.resume();
    }
    return ex.req;
  }

  onMessageComplete(msg: HttpMessage): void {
    if (msg.exchange !== null) this.emitIfSettled(msg.exchange);
  }

  onFramingLost(isRequest: boolean, msg: HttpMessage | null, reason: IncompleteReason): void {
    const final = reason === 'closed' || reason === 'evicted' || reason === 'idle' || reason === 'shutdown';
    if (!final) this.ctx.stats.add(`drops.${reason}`);
    if (isRequest) {
      if (msg !== null) {
        let ex = msg.exchange;
        if (ex === null && this.synced) {
          // A head cut short whose request line is known: its place in the queue is certain.
          this.onRequestHead(msg);
          ex = msg.exchange;
        }
        if (ex !== null) {
          ex.markIncomplete(reason);
          this.emitIfSettled(ex);
        }
      }
      if (!final) this.synced = false;
      return;
    }
    // Response side.
    let ex = msg?.exchange ?? null;
    if (ex === null && msg !== null && msg.head !== null) {
      // A response head cut short: it answers the first waiting request (if we know it).
      if (this.skipResponses > 0) this.skipResponses--;
      else {
        ex = this.awaiting();
        if (ex !== null) {
          ex.res = msg;
          msg.exchange = ex;
        }
      }
    }
    if (ex !== null) {
      ex.markIncomplete(reason);
      this.emitIfSettled(ex);
    }
    if (final) return;
    // Responses of the other waiting requests may have been lost: settle them unanswered.
    this.skipResponses = 0;
    for (const e of [...this.queue]) {
      if (e.res === null && !e.noResponse) {
        e.noResponse = true;
        e.markIncomplete(reason);
        this.emitIfSettled(e);
      }
    }
    this.synced = false;
  }

  onTunnel(): void {
    const { kept, broken } = this.req.tunnel();
    const sw = this.switching;
    if (sw === null) {
      this.done = true;
      this.ctx.stats.add('connections.upgraded');
      return;
    }
    this.next = sw.create({ clientDir: this.reqDir, request: sw.request });
    if (broken) this.next.onGap(this.reqDir, 1, sw.request.endTime, 'gap');
    for (const k of kept) this.next.onData(this.reqDir, k.data, k.time, -1, k.file);
  }

  onTunnelData(isRequest: boolean, data: Buffer, time: bigint, file?: FileOrigin): void {
    this.next?.onData(isRequest ? this.reqDir : other(this.reqDir), data, time, -1, file);
  }

  // ---- internals ----

  /** The first exchange waiting for its response. */
  private awaiting(): HttpExchange | null {
    for (const ex of this.queue) if (ex.res === null && !ex.noResponse) return ex;
    return null;
  }

  private settleAll(reason: IncompleteReason): void {
    for (const ex of [...this.queue]) {
      if (ex.res === null && !ex.noResponse) {
        ex.noResponse = true;
        ex.markIncomplete(reason);
      }
      if (ex.req.state === 'open') {
        ex.req.state = 'failed';
        ex.markIncomplete(reason);
      }
      if (ex.res !== null && ex.res.state === 'open') {
        ex.res.state = 'failed';
        ex.markIncomplete(reason);
      }
      this.emitIfSettled(ex);
    }
  }

  private emitIfSettled(ex: HttpExchange, dequeued = false): void {
    if (ex.emitted || !ex.settled) return;
    ex.emitted = true;
    if (!dequeued) {
      const i = this.queue.indexOf(ex);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.ctx.emit(ex);
  }
}
