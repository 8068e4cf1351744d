// Incremental HTTP/1 message parser for one direction of one connection.
//
// Fed contiguous data (push), gaps (gap) and the end of the stream (close/abort). Works on the
// Buffers it is given: header blocks are searched with indexOf(LF) and only concatenated when a
// block spans chunks; body bytes are counted (and copied, up to max_body_bytes, when bodies are
// captured), never accumulated otherwise. Every buffer it holds is capped.
//
// Framing per RFC 9112 §6.3: HEAD responses, 1xx, 204 and 304 have no body; 101 and 2xx to
// CONNECT turn the connection into a tunnel; Transfer-Encoding chunked (with extensions and
// trailers); Content-Length; responses without either are delimited by the close. A request
// with Upgrade, or a CONNECT, pauses the request side (bytes kept, bounded) until its response
// says whether the connection switched.
//
// Gaps: inside a body whose extent is known (Content-Length, inside chunk data, close-delimited)
// a gap is bridged: the bytes are counted as lost and framing goes on. Anywhere else the message
// in progress fails and the parser scans for the next plausible start line (resynchronisation).
// Bytes skipped on purpose (a file range nobody needs, see bytesNeeded) are bridged the same way
// but counted as skipped, not lost.

import {
  MAX_HEADER_COUNT,
  firstLine,
  headFromStartLine,
  isTchar,
  parseChunkSize,
  parseHead,
  parseStartLine,
  plausibleRequestLine,
  plausibleStatusLine,
  type Plausible,
} from './head';
import { HttpMessage, type IncompleteReason } from '../model/exchange';
import { appendGrow } from '../core/buffers';
import { bodyBytesNeeded, bodyData, bodyLost, bodySkipped, completeBeforeClose, fileSource, type FileSource } from '../model/body';
import type { Counters } from '../core/counters';
import type { FileOrigin } from '../../../core/types';
import type { ByteOrigin, HandlerLimits } from '../core/contract';

/** Bytes held while paused, with what they were handed over with. */
interface Kept {
  data: Buffer;
  time: bigint;
  file?: FileOrigin | undefined;
}

export interface Http1Sink {
  /** A request head was parsed (msg.head set). */
  onRequestHead(msg: HttpMessage): void;
  /** A final response head was parsed; returns the request it answers (for framing), if known. */
  onResponseHead(msg: HttpMessage): HttpMessage | null;
  onMessageComplete(msg: HttpMessage): void;
  /**
   * Framing was lost: `msg` is the message in progress (null when none can be attributed: a gap
   * or garbage at a message boundary, or a partial head without a valid start line).
   */
  onFramingLost(isRequest: boolean, msg: HttpMessage | null, reason: IncompleteReason): void;
  /** 101 or 2xx to CONNECT: the connection is no longer HTTP/1. */
  onTunnel(): void;
  /** Bytes that followed the switch in the same push (the new protocol's first bytes). */
  onTunnelData(isRequest: boolean, data: Buffer, time: bigint, file?: FileOrigin): void;
}

export type Http1ParserOptions = HandlerLimits;

const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LEN = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_CRLF = 5;
const S_TRAILERS = 6;
const S_BODY_CLOSE = 7;
const S_SCAN = 8;
const S_PAUSED = 9;
const S_TUNNEL = 10;
const S_CLOSED = 11;

/** A chunk-size line (size + extensions) longer than this is malformed. */
const MAX_CHUNK_LINE = 4096;

export class Http1Parser {
  private state = S_IDLE;
  private cur: HttpMessage | null = null;
  private remaining = 0;
  // Header block / trailer section accumulation.
  /** Header bytes of a block spanning chunks, copied into a buffer grown by doubling (capped). */
  private acc: Buffer | null = null;
  private accLen = 0;
  private accKeep = true; // false for trailers: only their size is tracked
  private lineStart = 0; // offset in the block of the current line's first byte
  private lines = 0;
  private prevByte = 0; // last byte accumulated before the current push
  private scanStop = 0; // where scanBlock gave up on the line count
  // Chunk-size line.
  private line = '';
  private crSeen = false;
  // Resynchronisation.
  private scanTail: Buffer | null = null;
  /** While a chunk is parsed: the file it was sent from (null: from memory). */
  private file: FileSource | null = null;
  /** While a gap is accounted: how its bytes bypassed user memory, and whether they were skipped on purpose. */
  private gapOrigin: ByteOrigin | undefined = undefined;
  private skipping = false;
  private scanFromStart = true;
  // Paused request side (after an Upgrade request or a CONNECT).
  private paused: Kept[] = [];
  private pausedBytes = 0;
  private pausedBroken = false;
  /** The request the request side is paused on. */
  pausedOn: HttpMessage | null = null;

  constructor(
    readonly isRequest: boolean,
    private readonly sink: Http1Sink,
    private readonly opts: Http1ParserOptions,
    private readonly stats: Counters,
  ) {}

  /** A message is in progress (head started and not finished). */
  get midMessage(): boolean {
    return this.cur !== null;
  }

  get isTunnel(): boolean {
    return this.state === S_TUNNEL;
  }

  /** Bytes held: header block in progress, paused data, scan tail, captured body. */
  bufferedBytes(): number {
    return (this.accKeep ? this.accLen : 0) + this.pausedBytes + (this.scanTail?.length ?? 0) + this.line.length;
  }

  /** The message being parsed, if any. */
  get current(): HttpMessage | null {
    return this.cur;
  }

  /**
   * `offset`: stream offset of data[0] (-1 when unknown), for the messages' startOffset;
   * `file`: the bytes were sent from this file (sendfile), data[0] at its offset.
   */
  push(data: Buffer, time: bigint, offset = -1, file?: FileOrigin): void {
    const outer = this.file; // a push can replay paused data (resume) within another one
    this.file = fileSource(file, data.length);
    this.parse(data, time, offset);
    this.file = outer;
  }

  private parse(data: Buffer, time: bigint, offset: number): void {
    const st = this.state;
    if (st === S_TUNNEL || st === S_CLOSED) return;
    if (st === S_PAUSED) {
      this.keepPaused(data, time);
      return;
    }
    let fresh = true; // data[0] follows a chunk boundary (a resync candidate)
    if (st === S_SCAN && this.scanTail !== null) {
      if (offset >= 0) offset -= this.scanTail.length;
      data = Buffer.concat([this.scanTail, data]);
      this.scanTail = null;
    }
    let pos = 0;
    const n = data.length;
    while (pos < n) {
      switch (this.state) {
        case S_IDLE: {
          while (pos < n) {
            const b = data[pos];
            if (b !== 13 && b !== 10) break;
            pos++;
          }
          if (pos >= n) break;
          const b = data[pos]!;
          if (this.isRequest ? !isTchar(b) : b !== 0x48 /* H */) {
            // Garbage where a message should start: not attributable to any exchange.
            this.stats.add('drops.garbage');
            this.scanFromStart = false;
            this.state = S_SCAN;
            this.sink.onFramingLost(this.isRequest, null, 'malformed');
            break;
          }
          this.cur = new HttpMessage(this.isRequest, time);
          if (offset >= 0) this.cur.startOffset = offset + pos;
          this.beginBlock(true);
          this.state = S_HEAD;
          break;
        }
        case S_HEAD: {
          const end = this.scanBlock(data, pos);
          if (end === -2 || this.accLen + ((end < 0 ? n : end) - pos) > this.opts.maxHeaderBytes) {
            this.failHead('too_large', data, pos);
            // Rescan after the next line end, but never where a head could not fit either: no
            // blank line up to n (or up to where the line count ran out) means any message
            // starting before that would fail the same way (keeps hostile input linear).
            const floor = end === -2 ? this.scanStop : n - this.opts.maxHeaderBytes;
            pos = this.skipLine(data, pos, floor);
            break;
          }
          if (end < 0) {
            this.accumulate(data, pos, n);
            this.cur!.endTime = time;
            pos = n;
            break;
          }
          const block = this.accLen === 0 ? data.subarray(pos, end) : this.takeBlock(data, pos, end);
          pos = end;
          this.cur!.endTime = time;
          this.onHeadBlock(block, time);
          break;
        }
        case S_BODY_LEN: {
          const take = Math.min(this.remaining, n - pos);
          this.body(data, pos, pos + take, time);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.complete();
          break;
        }
        case S_CHUNK_SIZE: {
          const lf = data.indexOf(10, pos);
          const end = lf < 0 ? n : lf;
          if (this.line.length + (end - pos) > MAX_CHUNK_LINE) {
            this.fail('malformed');
            break;
          }
          this.line += data.toString('latin1', pos, end);
          this.cur!.endTime = time;
          if (lf < 0) {
            pos = n;
            break;
          }
          pos = lf + 1;
          let l = this.line;
          this.line = '';
          if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
          const size = parseChunkSize(l);
          if (size < 0) {
            this.stats.add('drops.bad_chunk');
            this.fail('malformed');
            break;
          }
          if (size === 0) {
            this.beginBlock(false);
            this.state = S_TRAILERS;
          } else {
            this.remaining = size;
            this.state = S_CHUNK_DATA;
          }
          break;
        }
        case S_CHUNK_DATA: {
          const take = Math.min(this.remaining, n - pos);
          this.body(data, pos, pos + take, time);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.crSeen = false;
            this.state = S_CHUNK_CRLF;
          }
          break;
        }
        case S_CHUNK_CRLF: {
          const b = data[pos];
          if (b === 13 && !this.crSeen) {
            this.crSeen = true;
            pos++;
          } else if (b === 10) {
            pos++;
            this.cur!.endTime = time;
            this.state = S_CHUNK_SIZE;
          } else {
            this.stats.add('drops.bad_chunk');
            this.fail('malformed');
          }
          break;
        }
        case S_TRAILERS: {
          const end = this.scanBlock(data, pos);
          const upto = end < 0 ? n : end;
          if (end === -2 || this.accLen + (upto - pos) > this.opts.maxHeaderBytes) {
            this.fail('too_large');
            break;
          }
          this.accumulate(data, pos, upto);
          this.cur!.endTime = time;
          pos = upto;
          if (end >= 0) this.complete();
          break;
        }
        case S_BODY_CLOSE: {
          this.body(data, pos, n, time);
          pos = n;
          break;
        }
        case S_SCAN: {
          const p = this.findStart(data, pos, fresh && pos === 0);
          if (p < 0) {
            this.stats.add('drops.resync_bytes', n - pos);
            pos = n;
            break;
          }
          this.stats.add('drops.resync_bytes', p - pos);
          this.stats.add('resyncs');
          pos = p;
          this.state = S_IDLE;
          break;
        }
        case S_PAUSED: {
          this.keepPaused(data.subarray(pos), time);
          pos = n;
          break;
        }
        default: // S_TUNNEL, S_CLOSED
          if (this.state === S_TUNNEL && pos < n) this.sink.onTunnelData(this.isRequest, data.subarray(pos), time, this.fileOf(n - pos));
          pos = n;
      }
      fresh = false;
    }
  }

  /**
   * `bytes` bytes of the stream were not captured after the data pushed so far; `origin`: how
   * they bypassed user memory. 'skipped' ones (see bytesNeeded) are body bytes nothing needs;
   * whatever of them lies outside a body is lost like any gap's.
   */
  gap(bytes: number, time: bigint, reason: 'gap' | 'truncated' | 'skipped', origin?: ByteOrigin): void {
    this.gapOrigin = origin;
    this.skipping = reason === 'skipped';
    this.lost(bytes, time, reason === 'skipped' ? 'gap' : reason);
    this.gapOrigin = undefined;
    this.skipping = false;
  }

  /**
   * Of the next `bytes` bytes, how many (from the first) it must see as data: all of them unless
   * they lie within the current body (Content-Length, chunk data, close-delimited), where only
   * those the body's accounting keeps or scans are needed.
   */
  bytesNeeded(bytes: number): number {
    const st = this.state;
    if (st === S_BODY_CLOSE || ((st === S_BODY_LEN || st === S_CHUNK_DATA) && bytes <= this.remaining)) return bodyBytesNeeded(this.cur!, bytes, this.opts);
    return bytes;
  }

  private lost(bytes: number, time: bigint, reason: 'gap' | 'truncated'): void {
    switch (this.state) {
      case S_IDLE:
        this.state = S_SCAN;
        this.scanFromStart = true;
        this.sink.onFramingLost(this.isRequest, null, reason);
        return;
      case S_HEAD:
        this.failHead(reason);
        this.scanFromStart = true;
        this.stats.add('drops.partial_head');
        return;
      case S_BODY_LEN: {
        const m = this.cur!;
        const lost = Math.min(bytes, this.remaining);
        this.lose(m, lost, time);
        this.remaining -= lost;
        if (this.remaining > 0) return;
        this.complete();
        if (bytes > lost) {
          // The gap also swallowed what followed this message: unknown messages may be lost.
          if (this.stateNow() === S_IDLE) this.state = S_SCAN;
          else this.pausedBroken = true;
          this.scanFromStart = true;
          this.sink.onFramingLost(this.isRequest, null, reason);
        }
        return;
      }
      case S_CHUNK_DATA:
        if (bytes <= this.remaining) {
          this.lose(this.cur!, bytes, time);
          this.remaining -= bytes;
          if (this.remaining === 0) {
            this.crSeen = false;
            this.state = S_CHUNK_CRLF;
          }
          return;
        }
        this.fail(reason);
        this.scanFromStart = true;
        return;
      case S_BODY_CLOSE:
        this.lose(this.cur!, bytes, time);
        return;
      case S_CHUNK_SIZE:
      case S_CHUNK_CRLF:
      case S_TRAILERS:
        this.fail(reason);
        this.scanFromStart = true;
        return;
      case S_SCAN:
        this.scanTail = null;
        this.scanFromStart = true;
        return;
      case S_PAUSED:
        this.pausedBroken = true;
        this.paused = [];
        this.pausedBytes = 0;
        return;
      default:
        return;
    }
  }

  /** The connection closed: a close-delimited body ends here; anything else in progress fails. */
  close(): void {
    if (this.state === S_BODY_CLOSE) this.complete();
    else if (this.state === S_CHUNK_SIZE && this.line === '' && completeBeforeClose(this.cur!, false)) {
      // Between chunks, right after the final SSE event: a client that stops reading there (the
      // openai Python SDK) never reads the last chunk; the response is whole.
      this.cur!.unread = 'last_chunk';
      this.complete();
    } else this.failCurrent('closed');
    this.end();
  }

  /** Forced end (eviction, idle, shutdown): the message in progress fails with `reason`. */
  abort(reason: IncompleteReason): void {
    this.failCurrent(reason);
    this.end();
  }

  /** The response to the paused-on request did not switch protocols: parse what was kept. */
  resume(): void {
    if (this.state !== S_PAUSED) return;
    const kept = this.paused;
    this.paused = [];
    this.pausedBytes = 0;
    this.pausedOn = null;
    if (this.pausedBroken) {
      this.pausedBroken = false;
      this.state = S_SCAN;
      this.scanFromStart = false;
      this.sink.onFramingLost(this.isRequest, null, 'gap');
    } else {
      this.state = S_IDLE;
    }
    for (const k of kept) this.push(k.data, k.time, -1, k.file);
  }

  /**
   * The connection switched protocols: parse nothing from here on. Returns the bytes held while
   * paused (the new protocol's first bytes) and whether some were dropped (over the cap or a gap).
   */
  tunnel(): { kept: Kept[]; broken: boolean } {
    const out = { kept: this.paused, broken: this.pausedBroken };
    this.failCurrent('closed');
    this.paused = [];
    this.pausedBytes = 0;
    this.pausedOn = null;
    this.acc = null;
    this.accLen = 0;
    this.scanTail = null;
    this.state = S_TUNNEL;
    return out;
  }

  // ---- internals ----

  /** The current state (a method call, so TypeScript does not keep a narrowed type across calls). */
  private stateNow(): number {
    return this.state;
  }

  private end(): void {
    this.state = S_CLOSED;
    this.acc = null;
    this.accLen = 0;
    this.paused = [];
    this.pausedBytes = 0;
    this.scanTail = null;
    this.line = '';
  }

  /** The file origin of the last `length` bytes of the chunk being parsed. */
  private fileOf(length: number): FileOrigin | undefined {
    return this.file === null ? undefined : { path: this.file.path, offset: this.file.end - length };
  }

  private keepPaused(data: Buffer, time: bigint): void {
    const k: Kept = { data, time, file: this.fileOf(data.length) };
    if (this.pausedBroken) return;
    if (this.pausedBytes + k.data.length > this.opts.maxHeaderBytes) {
      this.stats.add('drops.paused_overflow');
      this.pausedBroken = true;
      this.paused = [];
      this.pausedBytes = 0;
      return;
    }
    this.paused.push(k);
    this.pausedBytes += k.data.length;
  }

  private beginBlock(keep: boolean): void {
    this.acc = null;
    this.accLen = 0;
    this.accKeep = keep;
    this.lineStart = 0;
    this.lines = 0;
    this.prevByte = 0;
  }

  /**
   * Looks in data[from..] for the empty line ending the current block. Returns the index just
   * after it, -1 if not found in this data, -2 if the block has too many lines.
   */
  private scanBlock(data: Buffer, from: number): number {
    let p = from;
    const base = this.accLen - from; // absolute block offset of data[i] is base + i
    for (;;) {
      const lf = data.indexOf(10, p);
      if (lf < 0) return -1;
      const abs = base + lf;
      const lineLen = abs - this.lineStart;
      if (lineLen === 0 || (lineLen === 1 && (lf > from ? data[lf - 1] : this.prevByte) === 13)) return lf + 1;
      if (++this.lines > MAX_HEADER_COUNT + 1) {
        this.scanStop = lf + 1;
        return -2;
      }
      this.lineStart = abs + 1;
      p = lf + 1;
    }
  }

  private accumulate(data: Buffer, from: number, to: number): void {
    if (to <= from) return;
    if (this.accKeep) this.acc = appendGrow(this.acc, this.accLen, data, from, to, this.opts.maxHeaderBytes);
    this.accLen += to - from;
    this.prevByte = data[to - 1]!;
  }

  private takeBlock(data: Buffer, from: number, to: number): Buffer {
    const block = Buffer.concat([this.acc!.subarray(0, this.accLen), data.subarray(from, to)]);
    this.acc = null;
    this.accLen = 0;
    return block;
  }

  /**
   * Where scanning resumes: just after the next LF at or after pos, and not before `floor`
   * (a line start at or after floor).
   */
  private skipLine(data: Buffer, pos: number, floor: number): number {
    let next: number;
    if (floor > pos + 1) {
      const lf = data.indexOf(10, floor - 1);
      next = lf < 0 ? data.length : lf + 1;
    } else {
      const lf = data.indexOf(10, pos);
      next = lf < 0 ? data.length : lf + 1;
    }
    this.stats.add('drops.resync_bytes', next - pos);
    return next;
  }

  private onHeadBlock(block: Buffer, time: bigint): void {
    const m = this.cur!;
    const head = parseHead(block, this.isRequest, this.opts.captureHeaders);
    if (typeof head === 'string') {
      const sl = parseStartLine(firstLine(block.toString('latin1', 0, Math.min(block.length, 65536))) ?? '');
      if (sl !== null && (sl.kind === 'request') === this.isRequest) {
        m.head = headFromStartLine(sl);
        this.failAttributed(head);
      } else {
        this.failUnattributed(head);
      }
      return;
    }
    m.head = head;
    m.endTime = time;
    if (this.isRequest) {
      this.sink.onRequestHead(m);
      if (head.transferEncoding) {
        if (!head.chunked) {
          this.fail('malformed');
          return;
        }
        this.startChunked(m);
      } else if (head.contentLength === -2) {
        this.fail('malformed');
      } else if (head.contentLength > 0) {
        m.hasBody = true;
        this.remaining = head.contentLength;
        this.state = S_BODY_LEN;
      } else {
        m.hasBody = head.contentLength === 0;
        this.complete();
      }
      return;
    }
    const status = head.status;
    if (status < 200 && status !== 101) {
      // Interim response (100 Continue, 102, 103): not the final response, never has a body.
      this.stats.add('responses.interim');
      this.cur = null;
      this.state = S_IDLE;
      return;
    }
    const req = this.sink.onResponseHead(m);
    const method = req?.head?.method;
    if (status === 101 || (method === 'CONNECT' && status < 300)) {
      this.complete();
      this.tunnel();
      this.sink.onTunnel();
      return;
    }
    if (method === 'HEAD' || status === 204 || status === 304) {
      this.complete();
    } else if (head.transferEncoding) {
      m.hasBody = true;
      if (head.chunked) this.startChunked(m);
      else this.state = S_BODY_CLOSE;
    } else if (head.contentLength === -2) {
      this.fail('malformed');
    } else if (head.contentLength >= 0) {
      m.hasBody = true;
      if (head.contentLength === 0) this.complete();
      else {
        this.remaining = head.contentLength;
        this.state = S_BODY_LEN;
      }
    } else {
      m.hasBody = true;
      this.state = S_BODY_CLOSE;
    }
  }

  private startChunked(m: HttpMessage): void {
    m.hasBody = true;
    this.line = '';
    this.state = S_CHUNK_SIZE;
  }

  private body(data: Buffer, from: number, to: number, time: bigint): void {
    bodyData(this.cur!, data, from, to, time, this.file, this.opts);
  }

  /** A bridged gap inside a body: counted as body bytes that were not captured (or skipped). */
  private lose(m: HttpMessage, bytes: number, time: bigint): void {
    if (!this.skipping) {
      bodyLost(m, bytes, time, this.gapOrigin, this.stats);
      return;
    }
    bodySkipped(m, bytes, time, this.gapOrigin);
    this.stats.add('bytes.skipped', bytes);
  }

  private complete(): void {
    const m = this.cur!;
    this.cur = null;
    m.state = 'complete';
    this.acc = null;
    this.accLen = 0;
    if (this.isRequest && m.head !== null && (m.head.upgrade || m.head.method === 'CONNECT')) {
      this.state = S_PAUSED;
      this.pausedOn = m;
    } else {
      this.state = S_IDLE;
    }
    this.sink.onMessageComplete(m);
  }

  /** The message in progress (head parsed) fails; scan for the next start line. */
  private fail(reason: IncompleteReason): void {
    const m = this.cur;
    this.reset();
    if (m === null) {
      this.sink.onFramingLost(this.isRequest, null, reason);
      return;
    }
    m.state = 'failed';
    m.failReason = reason;
    this.sink.onFramingLost(this.isRequest, m, reason);
  }

  /** Failure while the head is still being assembled: attribute it if the start line is known. */
  private failHead(reason: IncompleteReason, data?: Buffer, from = 0): void {
    const m = this.cur!;
    const line = this.partialStartLine(data, from);
    const sl = line === null ? null : parseStartLine(line);
    if (sl !== null && (sl.kind === 'request') === this.isRequest) {
      m.head = headFromStartLine(sl);
      this.failAttributed(reason);
    } else {
      this.failUnattributed(reason);
    }
  }

  /** The first line of the head being assembled (acc, then data[from..]), or null if incomplete. */
  private partialStartLine(data: Buffer | undefined, from: number): string | null {
    let text = '';
    const held = this.acc === null ? [] : [this.acc.subarray(0, this.accLen)];
    const parts = data === undefined ? held : [...held, data.subarray(from)];
    for (const b of parts) {
      const lf = b.indexOf(10);
      const end = lf < 0 ? b.length : lf + 1;
      if (text.length + end > this.opts.maxHeaderBytes) return null;
      text += b.toString('latin1', 0, end);
      if (lf >= 0) return firstLine(text);
    }
    return null;
  }

  /** Fails whatever message is in progress (nothing when idle). */
  private failCurrent(reason: IncompleteReason): void {
    if (this.cur === null) return;
    if (this.state === S_HEAD) this.failHead(reason);
    else this.fail(reason);
  }

  private failAttributed(reason: IncompleteReason): void {
    const m = this.cur!;
    this.reset();
    m.state = 'failed';
    m.failReason = reason;
    this.sink.onFramingLost(this.isRequest, m, reason);
  }

  private failUnattributed(reason: IncompleteReason): void {
    this.reset();
    this.sink.onFramingLost(this.isRequest, null, reason);
  }

  private reset(): void {
    this.cur = null;
    this.acc = null;
    this.accLen = 0;
    this.line = '';
    this.scanFromStart = false;
    this.state = S_SCAN;
  }

  /**
   * Finds the next plausible message start at or after `pos`: at the start of fresh data (after
   * a gap or a chunk boundary) or just after a line feed. Returns -1 when there is none in
   * `data` (a short undecided tail is kept for the next push).
   */
  private findStart(data: Buffer, pos: number, fresh: boolean): number {
    const n = data.length;
    if ((fresh || this.scanFromStart) && pos < n) {
      this.scanFromStart = false;
      const r = this.plausible(data, pos);
      if (r === 'yes') return pos;
      if (r === 'more') {
        this.scanTail = Buffer.from(data.subarray(pos));
        return -1;
      }
    }
    let p = pos;
    for (;;) {
      const lf = data.indexOf(10, p);
      if (lf < 0) return -1;
      const c = lf + 1;
      if (c >= n) {
        this.scanFromStart = true; // the next data starts a line
        return -1;
      }
      const r = this.plausible(data, c);
      if (r === 'yes') return c;
      if (r === 'more') {
        this.scanTail = Buffer.from(data.subarray(c));
        return -1;
      }
      p = c;
    }
  }

  private plausible(data: Buffer, pos: number): Plausible {
    return this.isRequest ? plausibleRequestLine(data, pos, true) : plausibleStatusLine(data, pos);
  }
}
