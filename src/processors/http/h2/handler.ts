// HTTP/2 for one connection: detection (client preface, a server speaking first on a connection
// seen from its handshake, or a plausible sequence of frames when the collector attached
// mid-connection), one frame parser and one HPACK decoder per direction (living as long as the
// connection), streams turned into exchanges, gRPC calls recognised on top.
//
// Pairing is exact: a stream id ties a response to its request. The side that sent a stream's
// request is the one whose first header block carries :method; when the pseudo-headers refer to
// dynamic-table entries the decoder never saw (mid-stream attach), the direction learned from
// other streams decides, then the kernel's role; otherwise the stream is dropped (counted), never
// guessed. A response whose request was not seen (it started before the collector attached) is
// dropped (counted).
//
// Lost bytes: inside a DATA payload they are bridged (counted as lost body bytes); inside a header
// block they lose that block and the HPACK context (the decoder returns to the unknown-prefix
// state: later references to entries it did not see are reported as unknown); elsewhere frame sync
// is lost until a chunk starts with plausible frames, and every stream with an open message in that
// direction is marked incomplete ('gap').

import type { Direction, FileOrigin } from '../../../core/types';
import {
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FT_CONTINUATION,
  FT_DATA,
  FT_GOAWAY,
  FT_HEADERS,
  FT_PRIORITY,
  FT_PUSH_PROMISE,
  FT_RST_STREAM,
  FT_SETTINGS,
  FT_WINDOW_UPDATE,
  FT_PING,
  DEFAULT_MAX_FRAME_SIZE,
  MAX_FRAME_SIZE_LIMIT,
  FrameParser,
  plausibleFrames,
  prefaceMatch,
  type FrameHeader,
  type FrameSink,
} from './frames';
import { GrpcFramer, isGrpcContentType, parseGrpcPath } from './grpc';
import { HpackDecoder, type HeaderField } from './hpack';
import { REDACTED } from '../../../shared/url-redaction';
import { HttpExchange, HttpMessage, type HttpHead, type IncompleteReason } from '../model/exchange';
import { appendGrow } from '../core/buffers';
import { bodyData, bodyLost, completeBeforeClose, fileSource, type FileSource } from '../model/body';
import type { ByteOrigin, DetectResult, HandlerContext, ProtocolDetector, ProtocolHandler } from '../core/contract';

/** Streams tracked per connection; beyond, the oldest is reported as 'overflow'. */
export const H2_MAX_STREAMS = 1024;
/** Unknown-field markers kept per exchange. */
export const MAX_UNKNOWN_MARKERS = 16;
/** SETTINGS awaiting their acknowledgement, per direction. */
const MAX_PENDING_SETTINGS = 16;
/** Header fields returned per block (the rest is decoded for its table effects, then dropped). */
const MAX_HEADER_FIELDS = 256;

const other = (d: Direction): Direction => (d === 'egress' ? 'ingress' : 'egress');

export class Http2Detector implements ProtocolDetector {
  readonly protocol = 'http/2';

  detect(_dir: Direction, data: Buffer): DetectResult {
    const p = prefaceMatch(data);
    if (p !== 'no') return p;
    // SETTINGS_MAX_FRAME_SIZE is not known before the handshake was seen: any legal length.
    const r = plausibleFrames(data, 0, MAX_FRAME_SIZE_LIMIT, 'detect');
    return r === 'yes' ? 'match' : r;
  }

  create(ctx: HandlerContext, dir: Direction, data: Buffer, fromStart: boolean): ProtocolHandler {
    if (prefaceMatch(data) === 'match') return new Http2Handler(ctx, { kind: 'preface', clientDir: dir });
    // Frames first on a connection seen from its handshake: a server speaking first (grpcio writes
    // SETTINGS before it reads the preface). The client's direction starts with the preface.
    const clientDir = ctx.meta.role === 'client' ? 'egress' : ctx.meta.role === 'server' ? 'ingress' : null;
    if (fromStart && clientDir !== null && dir !== clientDir) return new Http2Handler(ctx, { kind: 'preface', clientDir });
    return new Http2Handler(ctx, { kind: 'midstream', syncedDir: dir });
  }
}

export type Http2Start =
  | { kind: 'preface'; clientDir: Direction }
  | { kind: 'midstream'; syncedDir: Direction }
  /** HTTP/1.1 Upgrade: h2c answered by 101: the upgrade request is stream 1's request. */
  | { kind: 'upgrade'; clientDir: Direction; request: HttpMessage };

interface Side {
  msg: HttpMessage | null;
  /** The initial (non-interim) header block was seen. */
  headers: boolean;
  ended: boolean;
  /** Frames of this side may have been lost (sync lost while it was open). */
  affected: boolean;
  grpc: GrpcFramer | null;
  /** DATA was seen before the side was known to be gRPC. */
  sawData: boolean;
  /** A trailer section ended it (or the head itself did: a trailers-only response). */
  trailers: boolean;
}
const newSide = (): Side => ({ msg: null, headers: false, ended: false, affected: false, grpc: null, sawData: false, trailers: false });

class Stream {
  ex: HttpExchange | null = null;
  readonly req = newSide();
  readonly res = newSide();
  constructor(
    readonly id: number,
    readonly reqDir: Direction,
  ) {}
  side(dir: Direction): Side {
    return dir === this.reqDir ? this.req : this.res;
  }
}

interface Block {
  streamId: number;
  /** PUSH_PROMISE: the promised stream; -1 for HEADERS. */
  promised: number;
  endStream: boolean;
  startTime: bigint;
  buf: Buffer | null;
  len: number;
  tooLarge: boolean;
  lost: boolean;
}

class DirState implements FrameSink {
  readonly parser: FrameParser;
  readonly hpack: HpackDecoder;
  block: Block | null = null;
  /** HEADER_TABLE_SIZE of SETTINGS sent by the other side, awaiting this side's ACK (null: not in that SETTINGS). */
  pendingLimits: Array<number | null> = [];

  constructor(
    readonly dir: Direction,
    private readonly h: Http2Handler,
    opts: { expectPreface: boolean; startInScan: boolean; attached: boolean },
  ) {
    const maxHeader = h.ctx.limits.maxHeaderBytes;
    this.parser = new FrameParser(this, {
      maxPayloadBytes: Math.max(maxHeader, DEFAULT_MAX_FRAME_SIZE),
      expectPreface: opts.expectPreface,
      startInScan: opts.startInScan,
      frameSizeUnknown: opts.attached,
    });
    this.hpack = new HpackDecoder({
      unknownPrefix: opts.attached,
      maxListBytes: maxHeader,
      maxFields: MAX_HEADER_FIELDS,
    });
  }

  onFrame(f: FrameHeader, payload: Buffer | null, time: bigint): void {
    this.h.frame(this, f, payload, time);
  }
  onData(f: FrameHeader, data: Buffer, from: number, to: number, time: bigint): void {
    this.h.data(this, f, data, from, to, time);
  }
  onDataEnd(f: FrameHeader, time: bigint): void {
    this.h.dataEnd(this, f, time);
  }
  onPayloadLost(f: FrameHeader, bytes: number, time: bigint): void {
    this.h.payloadLost(this, f, bytes, time);
  }
  onSyncLost(reason: 'gap' | 'truncated' | 'malformed'): void {
    this.h.syncLost(this, reason);
  }
  onResync(): void {
    this.h.ctx.stats.add('resyncs');
    this.h.ctx.stats.add('h2.resyncs');
  }
  onSkipped(bytes: number): void {
    this.h.ctx.stats.add('drops.resync_bytes', bytes);
  }
}

export class Http2Handler implements ProtocolHandler {
  readonly protocol = 'http/2';
  done = false;
  private readonly dirs: Record<Direction, DirState>;
  private readonly streams = new Map<number, Stream>();
  /** The direction carrying requests of client-initiated streams, once known. */
  private reqDir: Direction | null;
  private closed = false;
  /** While a chunk is parsed: the file it was sent from (null: from memory). */
  private file: FileSource | null = null;
  /** While a gap is handed over: how its bytes bypassed user memory. */
  private gapOrigin: ByteOrigin | undefined = undefined;

  constructor(
    readonly ctx: HandlerContext,
    start: Http2Start,
  ) {
    if (start.kind === 'midstream') {
      this.reqDir = null;
      const mk = (d: Direction) => new DirState(d, this, { expectPreface: false, startInScan: d !== start.syncedDir, attached: true });
      this.dirs = { egress: mk('egress'), ingress: mk('ingress') };
      ctx.stats.add('h2.midstream');
    } else {
      this.reqDir = start.clientDir;
      const mk = (d: Direction) => new DirState(d, this, { expectPreface: d === start.clientDir, startInScan: false, attached: false });
      this.dirs = { egress: mk('egress'), ingress: mk('ingress') };
      if (start.kind === 'upgrade') {
        // The client's SETTINGS travelled in HTTP2-Settings (not parsed): the server's table bound is not known.
        this.dirs[other(start.clientDir)].hpack.forgetLimit();
        const s = new Stream(1, start.clientDir);
        const ex = new HttpExchange(start.request, start.clientDir === 'egress', ctx.pid, ctx.comm);
        start.request.exchange = ex;
        ex.details.h2 = { streamId: 1, unknownHeaders: 0, unknownFields: [], sensitiveHeaders: 0 };
        s.ex = ex;
        s.req.msg = start.request;
        s.req.headers = true;
        s.req.ended = true;
        this.streams.set(1, s);
        ctx.stats.add('h2.upgrades');
      }
    }
  }

  // ---- ProtocolHandler ----

  onData(dir: Direction, data: Buffer, time: bigint, _offset: number, file?: FileOrigin): void {
    if (this.closed) return;
    this.file = fileSource(file, data.length);
    this.dirs[dir].parser.push(data, time);
    this.file = null;
  }

  /** Frames are parsed from every byte (no bytesNeeded): a 'skipped' gap only comes from elsewhere, and is a gap here. */
  onGap(dir: Direction, bytes: number, time: bigint, reason: 'gap' | 'truncated' | 'skipped', origin?: ByteOrigin): void {
    if (this.closed) return;
    this.gapOrigin = origin;
    this.dirs[dir].parser.gap(bytes, time, reason === 'skipped' ? 'gap' : reason);
    this.gapOrigin = undefined;
  }

  onClose(): void {
    this.finish('closed');
  }

  flush(reason: IncompleteReason): void {
    this.finish(reason);
  }

  bufferedBytes(): number {
    let n = 0;
    for (const d of [this.dirs.egress, this.dirs.ingress]) n += d.parser.bufferedBytes() + (d.block?.buf?.length ?? 0);
    for (const s of this.streams.values()) n += (s.req.msg?.bodyCaptured ?? 0) + (s.res.msg?.bodyCaptured ?? 0);
    return n;
  }

  /** Streams tracked (tests). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** The HPACK decoder of a direction (tests). */
  decoder(dir: Direction): HpackDecoder {
    return this.dirs[dir].hpack;
  }

  // ---- frames (called by DirState) ----

  frame(d: DirState, f: FrameHeader, payload: Buffer | null, time: bigint): void {
    const st = this.ctx.stats;
    if (d.block !== null && f.type !== FT_CONTINUATION) {
      // A header block interrupted by another frame: a protocol error; its table effects are lost.
      st.add('drops.h2_header_block');
      this.blockLost(d, d.block, 'malformed');
      d.block = null;
    }
    switch (f.type) {
      case FT_HEADERS:
      case FT_PUSH_PROMISE: {
        if (f.streamId === 0) {
          st.add('h2.frames.invalid');
          return;
        }
        const b: Block = {
          streamId: f.streamId,
          promised: -1,
          endStream: f.type === FT_HEADERS && (f.flags & FLAG_END_STREAM) !== 0,
          startTime: f.startTime,
          buf: null,
          len: 0,
          tooLarge: false,
          lost: payload === null,
        };
        if (payload !== null) {
          let from = 0;
          let to = payload.length;
          if (f.flags & FLAG_PADDED) {
            const pad = payload[0] ?? 0;
            from = 1;
            to -= pad;
          }
          if (f.type === FT_HEADERS && f.flags & FLAG_PRIORITY) from += 5;
          if (f.type === FT_PUSH_PROMISE) {
            if (to - from >= 4) b.promised = payload.readUInt32BE(from) & 0x7fffffff;
            from += 4;
          }
          if (to < from) {
            st.add('h2.frames.invalid'); // bad padding
            b.lost = true;
          } else this.addFragment(b, payload, from, to);
        } else if (f.length > this.ctx.limits.maxHeaderBytes) b.tooLarge = true;
        d.block = b;
        if (f.flags & FLAG_END_HEADERS) this.endBlock(d, time);
        return;
      }
      case FT_CONTINUATION: {
        const b = d.block;
        if (b === null || b.streamId !== f.streamId) {
          st.add('h2.frames.invalid');
          return;
        }
        if (payload === null) {
          if (f.length > this.ctx.limits.maxHeaderBytes) b.tooLarge = true;
          else b.lost = true;
        } else this.addFragment(b, payload, 0, payload.length);
        if (f.flags & FLAG_END_HEADERS) this.endBlock(d, time);
        return;
      }
      case FT_RST_STREAM: {
        const code = payload !== null && payload.length === 4 ? payload.readUInt32BE(0) : -1;
        this.reset(f.streamId, code, time);
        return;
      }
      case FT_SETTINGS: {
        if (f.flags & FLAG_ACK) {
          const v = d.pendingLimits.shift();
          if (v === undefined) d.hpack.forgetLimit();
          else if (v !== null) d.hpack.setLimit(v);
          return;
        }
        const peer = this.dirs[other(d.dir)];
        let limit: number | null = null;
        if (payload === null) {
          peer.hpack.forgetLimit();
          return;
        }
        for (let p = 0; p + 6 <= payload.length; p += 6) {
          const id = payload.readUInt16BE(p);
          const v = payload.readUInt32BE(p + 2);
          if (id === 1) limit = v;
          else if (id === 5) peer.parser.allowFrameSize(v);
        }
        if (peer.pendingLimits.length >= MAX_PENDING_SETTINGS) {
          peer.pendingLimits = [];
          peer.hpack.forgetLimit();
          st.add('h2.settings_overflow');
        }
        peer.pendingLimits.push(limit);
        return;
      }
      case FT_GOAWAY: {
        if (payload === null || payload.length < 8) return;
        const last = payload.readUInt32BE(0) & 0x7fffffff;
        const code = payload.readUInt32BE(4);
        st.add('h2.goaway');
        // Streams initiated by the receiver of the GOAWAY with a higher id will not be processed.
        const receiver = other(d.dir);
        for (const s of [...this.streams.values()]) {
          if (s.id > last && this.initiatorDir(s) === receiver) {
            if (s.ex !== null) {
              s.ex.markIncomplete('goaway');
              s.ex.details.h2!.goawayCode = code;
            }
            this.failOpen(s, 'goaway');
            this.settle(s, true);
          }
        }
        return;
      }
      case FT_PRIORITY:
      case FT_PING:
      case FT_WINDOW_UPDATE:
        return;
      default:
        st.add('h2.frames.unknown');
    }
  }

  data(d: DirState, f: FrameHeader, data: Buffer, from: number, to: number, time: bigint): void {
    const s = this.streams.get(f.streamId);
    if (s === undefined) {
      this.ctx.stats.add('h2.bytes.untracked', to - from);
      return;
    }
    const side = s.side(d.dir);
    const m = side.msg;
    if (m === null || side.ended) {
      this.ctx.stats.add('h2.bytes.untracked', to - from);
      return;
    }
    m.hasBody = true;
    side.sawData = true;
    bodyData(m, data, from, to, time, this.file, this.ctx.limits);
    side.grpc?.push(data, from, to, time);
  }

  dataEnd(d: DirState, f: FrameHeader, time: bigint): void {
    const s = this.streams.get(f.streamId);
    if (s === undefined) return;
    const side = s.side(d.dir);
    if (side.msg !== null) side.msg.endTime = time;
    if (f.flags & FLAG_END_STREAM) this.endSide(s, side, time);
  }

  payloadLost(d: DirState, f: FrameHeader, bytes: number, time: bigint): void {
    if (f.type === FT_DATA) {
      const s = this.streams.get(f.streamId);
      if (s === undefined) return;
      const side = s.side(d.dir);
      const m = side.msg;
      if (m === null) return;
      m.hasBody = true;
      bodyLost(m, bytes, time, this.gapOrigin, this.ctx.stats);
      side.grpc?.skip(bytes);
      return;
    }
    if (f.type === FT_SETTINGS) this.dirs[other(d.dir)].hpack.forgetLimit();
    // HEADERS / PUSH_PROMISE / CONTINUATION: the block is lost when it ends (onFrame with a null payload).
  }

  syncLost(d: DirState, reason: 'gap' | 'truncated' | 'malformed'): void {
    const st = this.ctx.stats;
    st.add(`drops.${reason}`);
    st.add('h2.sync_lost');
    if (d.block !== null) {
      this.blockLost(d, d.block, reason);
      d.block = null;
    }
    d.hpack.resetUnknown('gap');
    d.pendingLimits = [];
    const r: IncompleteReason = reason;
    for (const s of [...this.streams.values()]) {
      const side = s.side(d.dir);
      if (side.msg !== null && !side.ended) {
        side.affected = true;
        s.ex?.markIncomplete(r);
        side.grpc?.skip(Infinity);
      } else if (!side.headers && !side.ended) {
        // Its first header block may have been lost.
        side.affected = true;
      }
      this.maybeSettle(s);
    }
  }

  // ---- internals ----

  private addFragment(b: Block, payload: Buffer, from: number, to: number): void {
    if (b.tooLarge || b.lost) return;
    const cap = this.ctx.limits.maxHeaderBytes;
    if (b.len + (to - from) > cap) {
      b.tooLarge = true;
      b.buf = null;
      b.len = 0;
      return;
    }
    b.buf = appendGrow(b.buf, b.len, payload, from, to, cap);
    b.len += to - from;
  }

  /** A header block could not be decoded: its table effects are unknown from here on. */
  private blockLost(d: DirState, b: Block, reason: IncompleteReason): void {
    d.hpack.resetUnknown('gap');
    const s = this.streams.get(b.streamId);
    if (s !== undefined && s.ex !== null) {
      s.ex.markIncomplete(reason);
      const side = s.side(d.dir);
      if (!side.headers && side.msg === null) {
        // Its response head is lost: settle when the stream ends (or the connection does).
        side.affected = true;
      }
      this.maybeSettle(s);
    } else if (s === undefined) this.ctx.stats.add(`drops.h2_lost_block`);
  }

  private endBlock(d: DirState, time: bigint): void {
    const b = d.block!;
    d.block = null;
    const st = this.ctx.stats;
    if (b.tooLarge || b.lost) {
      if (b.tooLarge) st.add('drops.too_large');
      this.blockLost(d, b, b.tooLarge ? 'too_large' : 'gap');
      if (b.endStream) {
        const s = this.streams.get(b.streamId);
        if (s !== undefined) this.endSide(s, s.side(d.dir), time);
      }
      return;
    }
    const r = d.hpack.decode(b.buf ?? Buffer.alloc(0), 0, b.len);
    if (!r.ok) {
      st.add('drops.h2_hpack_error');
      const s = this.streams.get(b.streamId);
      if (s !== undefined && s.ex !== null) {
        s.ex.markIncomplete('malformed');
        if (b.endStream) this.endSide(s, s.side(d.dir), time);
        else this.maybeSettle(s);
      }
      return;
    }
    if (r.dropped > 0) st.add('drops.h2_header_fields', r.dropped);
    if (r.unknown > 0) st.add('h2.headers.unknown', r.unknown);
    const fields = r.fields;
    if (b.promised >= 0) {
      this.pushPromise(d, b, fields, r.unknown, time);
      return;
    }
    let s = this.streams.get(b.streamId);
    if (s === undefined) {
      const role = this.roleOf(d.dir, fields);
      if (role !== 'request') {
        st.add(role === 'response' ? 'drops.h2_unpaired_stream' : 'drops.h2_unknown_role');
        return;
      }
      s = this.newStream(b.streamId, d.dir);
    }
    const side = s.side(d.dir);
    const isReq = d.dir === s.reqDir;
    const ex = s.ex;
    if (!side.headers) {
      if (isReq) {
        const m = new HttpMessage(true, b.startTime);
        m.endTime = time;
        m.head = headOf(fields, true, this.ctx.limits.captureHeaders);
        side.msg = m;
        side.headers = true;
        const nex = new HttpExchange(m, s.reqDir === 'egress', this.ctx.pid, this.ctx.comm);
        m.exchange = nex;
        nex.details.h2 = { streamId: s.id, unknownHeaders: 0, unknownFields: [], sensitiveHeaders: 0 };
        s.ex = nex;
        this.noteFields(nex, fields, r.unknown);
        this.maybeGrpc(s, m.head, r.unknown);
      } else {
        if (ex === null) return;
        const head = headOf(fields, false, this.ctx.limits.captureHeaders);
        if (head.status >= 100 && head.status < 200) {
          st.add('responses.interim');
          this.noteFields(ex, fields, r.unknown);
          return;
        }
        const m = new HttpMessage(false, b.startTime);
        m.endTime = time;
        m.head = head;
        m.exchange = ex;
        side.msg = m;
        side.headers = true;
        ex.res = m;
        side.trailers = b.endStream;
        this.noteFields(ex, fields, r.unknown);
        this.maybeGrpc(s, head, r.unknown);
        if (ex.details.grpc !== undefined) this.grpcStatus(ex, fields); // trailers-only response
      }
    } else if (ex !== null) {
      // Trailers.
      st.add('h2.trailers');
      side.trailers = true;
      this.noteFields(ex, fields, r.unknown);
      if (!isReq && ex.details.grpc !== undefined) this.grpcStatus(ex, fields);
      if (side.msg !== null) side.msg.endTime = time;
    }
    if (b.endStream) this.endSide(s, side, time);
  }

  private pushPromise(d: DirState, b: Block, fields: HeaderField[], unknown: number, time: bigint): void {
    // Sent by the server on an open stream; the promised stream's request is these headers.
    const id = b.promised;
    if (id === 0 || this.streams.has(id)) {
      this.ctx.stats.add('h2.frames.invalid');
      return;
    }
    const s = this.newStream(id, other(d.dir));
    this.ctx.stats.add('h2.pushed');
    const m = new HttpMessage(true, b.startTime);
    m.endTime = time;
    m.head = headOf(fields, true, this.ctx.limits.captureHeaders);
    m.state = 'complete';
    s.req.msg = m;
    s.req.headers = true;
    s.req.ended = true;
    const ex = new HttpExchange(m, s.reqDir === 'egress', this.ctx.pid, this.ctx.comm);
    m.exchange = ex;
    ex.details.h2 = { streamId: id, unknownHeaders: 0, unknownFields: [], sensitiveHeaders: 0 };
    s.ex = ex;
    this.noteFields(ex, fields, unknown);
  }

  /** Whether a new stream's first header block in `dir` is a request. */
  private roleOf(dir: Direction, fields: HeaderField[]): 'request' | 'response' | 'unknown' {
    for (const f of fields) {
      if (f.unknown) continue;
      if (f.name === ':method') {
        this.reqDir ??= dir;
        return 'request';
      }
      if (f.name === ':status') {
        this.reqDir ??= other(dir);
        return 'response';
      }
    }
    const rd = this.reqDir ?? (this.ctx.meta.role === 'client' ? 'egress' : this.ctx.meta.role === 'server' ? 'ingress' : null);
    if (rd === null) return 'unknown';
    return rd === dir ? 'request' : 'response';
  }

  private newStream(id: number, reqDir: Direction): Stream {
    if (this.streams.size >= H2_MAX_STREAMS) {
      const [oldId, old] = this.streams.entries().next().value as [number, Stream];
      this.ctx.stats.add('drops.h2_stream_overflow');
      old.ex?.markIncomplete('overflow');
      this.failOpen(old, 'overflow');
      this.settle(old, true);
      this.streams.delete(oldId);
    }
    const s = new Stream(id, reqDir);
    this.streams.set(id, s);
    this.ctx.stats.add('h2.streams');
    return s;
  }

  /** The direction of the endpoint that opened the stream (odd ids: the client). */
  private initiatorDir(s: Stream): Direction {
    return s.id % 2 === 1 ? s.reqDir : other(s.reqDir);
  }

  private noteFields(ex: HttpExchange, fields: HeaderField[], unknown: number): void {
    const h2 = ex.details.h2!;
    h2.unknownHeaders += unknown;
    for (const f of fields) {
      if (f.sensitive) h2.sensitiveHeaders++;
      if (f.unknown && h2.unknownFields.length < MAX_UNKNOWN_MARKERS) {
        h2.unknownFields.push(f.marker ?? (f.name === '' ? '<unknown>' : `${f.name}: <unknown name>`));
      }
    }
  }

  /**
   * gRPC by content-type. A POST whose content-type may be among the fields referring to entries
   * the decoder never saw (a channel opened before the attach: grpcio indexes :path and
   * content-type) is a gRPC candidate, framed as such and kept only if the call frames like gRPC
   * when it settles (grpcLike), marked `byFraming`.
   */
  private maybeGrpc(s: Stream, head: HttpHead, unknownFields: number): void {
    const ex = s.ex!;
    const grpc = isGrpcContentType(head.contentType);
    if (ex.details.grpc !== undefined) {
      if (ex.details.grpc.byFraming && grpc) ex.details.grpc.byFraming = false;
      else if (ex.details.grpc.byFraming && head.contentType !== undefined) this.dropGrpcGuess(s);
      return;
    }
    const guess = !grpc && head.method === 'POST' && head.contentType === undefined && unknownFields > 0;
    if (!grpc && !guess) return;
    const target = ex.req.head?.target ?? '';
    const pm = parseGrpcPath(target.split('?')[0]!);
    ex.details.grpc = {
      service: pm?.service ?? '',
      method: pm?.method ?? '',
      status: null,
      request: new GrpcFramer(),
      response: new GrpcFramer(),
      byFraming: guess,
    };
    s.req.grpc = ex.details.grpc.request;
    s.res.grpc = ex.details.grpc.response;
    // Body bytes that went by before the call was known to be gRPC were not framed.
    if (s.req.sawData) ex.details.grpc.request.lost = true;
    if (s.res.sawData) ex.details.grpc.response.lost = true;
    if (!guess) this.ctx.stats.add('h2.grpc_calls');
  }

  /**
   * A call recognised only by its framing is gRPC when it is whole and frames exactly like it:
   * length-prefixed messages in both bodies (at least one), a 200 response ended by trailers.
   */
  private grpcLike(s: Stream): boolean {
    const ex = s.ex!;
    const g = ex.details.grpc!;
    return (
      ex.incomplete === null &&
      ex.res?.head?.status === 200 &&
      s.res.trailers &&
      !g.request.lost &&
      !g.response.lost &&
      !g.request.partial &&
      !g.response.partial &&
      g.request.messages + g.response.messages > 0
    );
  }

  private dropGrpcGuess(s: Stream): void {
    delete s.ex!.details.grpc;
    s.req.grpc = null;
    s.res.grpc = null;
  }

  private grpcStatus(ex: HttpExchange, fields: HeaderField[]): void {
    for (const f of fields) {
      if (f.name === 'grpc-status' && !f.unknown && !f.sensitive) {
        const v = f.value.trim();
        if (/^\d{1,3}$/.test(v)) ex.details.grpc!.status = Number(v);
      }
    }
  }

  private endSide(s: Stream, side: Side, time: bigint): void {
    if (side.ended) return;
    side.ended = true;
    const m = side.msg;
    if (m !== null && m.state === 'open') {
      m.state = 'complete';
      m.endTime = time;
    }
    this.maybeSettle(s);
  }

  /** Emits the exchange once both sides are done (or one is done and the other was cut by lost bytes). */
  private maybeSettle(s: Stream): void {
    const req = s.req;
    const res = s.res;
    const reqDone = req.ended || req.affected;
    const resDone = res.ended || (res.affected && req.ended);
    if (reqDone && resDone && (req.ended || res.ended)) {
      if (!req.ended || !res.ended) {
        s.ex?.markIncomplete('gap');
        this.failOpen(s, 'gap');
      }
      this.settle(s, true);
    }
  }

  /**
   * The connection closed with the stream's response open but whole: the request ended, and the
   * response's body has its declared length (curl closes once Content-Length is satisfied, before
   * an empty END_STREAM) or ended at its final SSE event. gRPC needs its trailers (the status).
   */
  private completeBeforeEnd(s: Stream): boolean {
    const m = s.res.msg;
    if (!s.req.ended || s.res.ended || s.res.affected || m === null || m.state !== 'open' || s.ex!.details.grpc !== undefined) return false;
    const length = m.head!.contentLength;
    return completeBeforeClose(m, length >= 0 && m.bodySize === length);
  }

  private reset(id: number, code: number, _time: bigint): void {
    const s = this.streams.get(id);
    if (s === undefined) return;
    this.ctx.stats.add('h2.resets');
    const ex = s.ex;
    const resComplete = s.res.ended && s.res.msg !== null && s.res.msg.state === 'complete';
    if (ex !== null) {
      if (!resComplete) {
        ex.markIncomplete('reset');
        ex.details.h2!.resetCode = code;
      }
    }
    if (resComplete) {
      // The response is whole: a reset only stops the rest of the request (e.g. gRPC after trailers).
      const m = s.req.msg;
      if (m !== null && m.state === 'open') m.state = 'complete';
      s.req.ended = true;
    } else this.failOpen(s, 'reset');
    this.settle(s, true);
  }

  /** Marks open messages of the stream failed. */
  private failOpen(s: Stream, reason: IncompleteReason): void {
    for (const side of [s.req, s.res]) {
      const m = side.msg;
      if (m !== null && m.state === 'open') {
        m.state = 'failed';
        m.failReason = reason;
      }
      side.ended = true;
    }
  }

  private settle(s: Stream, remove: boolean): void {
    if (remove) this.streams.delete(s.id);
    const ex = s.ex;
    if (ex === null || ex.emitted) return;
    if (ex.res === null) ex.noResponse = true;
    if (ex.req.state === 'open') ex.req.state = 'failed';
    if (ex.res !== null && ex.res.state === 'open') ex.res.state = 'failed';
    if (ex.details.grpc?.byFraming === true) {
      if (this.grpcLike(s)) {
        this.ctx.stats.add('h2.grpc_calls');
        this.ctx.stats.add('h2.grpc_by_framing');
      } else this.dropGrpcGuess(s);
    }
    if (ex.details.grpc !== undefined && (ex.details.grpc.request.partial || ex.details.grpc.response.partial)) {
      if (ex.details.grpc.request.partial) ex.details.grpc.request.lost = true;
      if (ex.details.grpc.response.partial) ex.details.grpc.response.lost = true;
    }
    ex.emitted = true;
    this.ctx.emit(ex);
  }

  private finish(reason: IncompleteReason): void {
    if (this.closed) return;
    this.closed = true;
    this.dirs.egress.parser.end();
    this.dirs.ingress.parser.end();
    for (const s of [...this.streams.values()]) {
      if (s.ex === null) continue;
      if (reason === 'closed' && this.completeBeforeEnd(s)) {
        s.res.msg!.unread = 'end_stream';
        this.endSide(s, s.res, s.res.msg!.endTime);
        continue;
      }
      if (!(s.req.ended && s.res.ended)) {
        s.ex.markIncomplete(reason);
        this.failOpen(s, reason);
      }
      this.settle(s, false);
    }
    this.streams.clear();
  }
}

/** The head of an HTTP/2 request or response from its (known) header fields. */
export function headOf(fields: HeaderField[], isRequest: boolean, capture?: ReadonlySet<string>): HttpHead {
  const head: HttpHead = {
    method: '',
    target: '',
    status: 0,
    version: '2',
    traceparentCount: 0,
    contentLength: -1,
    transferEncoding: false,
    chunked: false,
    upgrade: false,
  };
  let host: string | undefined;
  for (const f of fields) {
    if (f.unknown) continue;
    const n = f.name;
    const v = f.value;
    if (capture !== undefined && capture.size > 0 && capture.has(n)) {
      // A never-indexed value is a secret: its presence is recorded, its value never leaves here.
      (head.captured ??= []).push([n, f.sensitive ? REDACTED : v]);
      if (f.sensitive) (head.capturedSensitive ??= []).push(n);
    }
    if (n.charCodeAt(0) === 0x3a /* : */) {
      if (isRequest) {
        if (n === ':method') head.method = v;
        else if (f.sensitive)
          continue; // a never-indexed value is a secret: not exported
        else if (n === ':path') head.target = v;
        else if (n === ':authority') head.host = v;
        else if (n === ':scheme') head.scheme = v;
      } else if (n === ':status') {
        const st = /^\d{3}$/.test(v) ? Number(v) : 0;
        head.status = st;
      }
      continue;
    }
    if (f.sensitive) continue;
    switch (n) {
      case 'host':
        host ??= v;
        break;
      case 'user-agent':
        head.userAgent ??= v;
        break;
      case 'traceparent':
        head.traceparentCount++;
        head.traceparent = head.traceparentCount === 1 ? v.trim() : undefined;
        break;
      case 'tracestate':
        head.tracestate = head.tracestate === undefined ? v.trim() : `${head.tracestate},${v.trim()}`;
        break;
      case 'content-type':
        head.contentType ??= v;
        break;
      case 'content-encoding':
        head.contentEncoding ??= v.trim().toLowerCase();
        break;
      case 'content-length': {
        const t = v.trim();
        head.contentLength = /^\d{1,15}$/.test(t) ? Number(t) : -2;
        break;
      }
    }
  }
  if (head.host === undefined && host !== undefined) head.host = host;
  return head;
}
