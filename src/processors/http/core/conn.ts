// One tracked connection of the http processor: its two reassembled byte streams, protocol
// detection on their first bytes, and the protocol handler it then feeds. It is the handler's
// HandlerContext (contract.ts).

import type { CaptureChunk, ConnectionMeta, Direction, FileOrigin, FileRangeReader } from '../../../core/types';
import type { HttpExchange, IncompleteReason } from '../model/exchange';
import { appendGrow } from './buffers';
import type { ByteOrigin, HandlerContext, HandlerLimits, Handover, Protocol, ProtocolDetector, ProtocolHandler } from './contract';
import type { Counters } from './counters';
import { DirStream, type StreamSink } from './reassembly';

/** What a connection needs from the processor that tracks it. */
export interface ConnOwner {
  readonly counters: Counters;
  readonly limits: HandlerLimits;
  readonly detectors: readonly ProtocolDetector[];
  /** HTTP/1 Upgrade token -> the protocol that takes the connection over. */
  readonly upgrades: ReadonlyMap<string, Protocol>;
  emitExchange(ex: HttpExchange, conn: Conn): void;
}

/** Detection gives up on a connection after this many candidate segments or bytes without a match. */
export const DETECT_MAX_ATTEMPTS = 8;
export const DETECT_MAX_BYTES = 64 * 1024;

type ConnStatus = 'detecting' | 'active' | 'ignored';

interface Hold {
  buf: Buffer | null;
  len: number;
  time: bigint;
  /** Only line-based detectors want more: wait for a line feed before asking again. */
  lineOnly: boolean;
}
const emptyHold = (): Hold => ({ buf: null, len: 0, time: 0n, lineOnly: true });

export class Conn implements StreamSink, HandlerContext {
  status: ConnStatus = 'detecting';
  handler: ProtocolHandler | null = null;
  readonly egress: DirStream;
  readonly ingress: DirStream;
  pid: number;
  tid: number;
  comm: string;
  lastActive = 0; // monotonic ms
  epoch = -1; // batch in which it was last moved to the LRU tail
  /** The one thread that moved every data chunk of the connection so far; -1 once two did (trace_links' thread rule). */
  thread: number;
  /** Per direction (egress, ingress): the start of a possible message awaiting its line feed. */
  private held: [Hold, Hold] = [emptyHold(), emptyHold()];
  private detectAttempts = 0;
  private detectBytes = 0;
  /** Bytes of a direction were dropped (a gap, a rejected candidate) before a protocol matched. */
  private skippedBeforeMatch = false;

  constructor(
    readonly meta: ConnectionMeta,
    first: CaptureChunk,
    private readonly proc: ConnOwner,
  ) {
    this.egress = new DirStream('egress', proc.counters);
    this.ingress = new DirStream('ingress', proc.counters);
    this.pid = first.pid;
    this.tid = first.tid;
    this.comm = first.comm;
    this.thread = first.tid;
  }

  get limits(): HandlerLimits {
    return this.proc.limits;
  }
  get stats(): Counters {
    return this.proc.counters;
  }

  emit(ex: HttpExchange): void {
    this.proc.emitExchange(ex, this);
  }

  takeOver(upgradeTo: string): ((h: Handover) => ProtocolHandler) | null {
    for (const token of upgradeTo.toLowerCase().split(/[\s,]+/)) {
      const p = this.proc.upgrades.get(token);
      if (p !== undefined) return (h) => p.takeOver!(this, h);
    }
    return null;
  }

  /** (A method: the status can change under a call that TypeScript cannot see.) */
  isIgnored(): boolean {
    return this.status === 'ignored';
  }

  bufferedBytes(): number {
    return this.egress.bufferedBytes + this.ingress.bufferedBytes + this.held[0].len + this.held[1].len + (this.handler?.bufferedBytes() ?? 0);
  }

  // ---- StreamSink ----

  data(dir: Direction, data: Buffer, time: bigint, file?: FileOrigin): void {
    this.receive(dir, data, time, this.streamOf(dir).next, file); // the stream has just moved past data
  }

  gap(dir: Direction, bytes: number, time: bigint, reason: 'gap' | 'truncated' | 'skipped', origin?: ByteOrigin): void {
    if (reason === 'skipped' && origin !== 'kernel_side' && origin?.reader !== undefined) {
      this.fileRange(dir, bytes, time, origin, origin.reader);
      return;
    }
    if (this.status !== 'active') {
      if (this.status === 'detecting') {
        this.held[dir === 'egress' ? 0 : 1] = emptyHold();
        this.skippedBeforeMatch = true;
      }
      return;
    }
    this.handler!.onGap(dir, bytes, time, reason, origin);
  }

  /** Bytes of `dir` ending at stream offset `end`. */
  private receive(dir: Direction, data: Buffer, time: bigint, end: number, file: FileOrigin | undefined): void {
    if (this.status === 'active') {
      this.handOver(dir, data, time, end, file);
      if (this.handler!.done) this.stopTracking();
      return;
    }
    if (this.status === 'ignored') {
      this.stats.add('bytes.ignored', data.length);
      return;
    }
    this.detect(dir, data, time, end, file);
  }

  /**
   * `bytes` bytes of `dir` sent from a file and not read yet (the stream has moved past them):
   * what detection or the handler needs of them (bytesNeeded) is read and handed over as data,
   * the rest as a 'skipped' gap. A read that comes up short (the file changed or is gone) makes
   * the rest of the range a gap, as a range that could not be read again always was.
   */
  private fileRange(dir: Direction, bytes: number, time: bigint, origin: FileOrigin, reader: FileRangeReader): void {
    const end = this.streamOf(dir).next;
    for (let done = 0; done < bytes;) {
      const left = bytes - done;
      const from = { path: origin.path, offset: origin.offset + done };
      if (this.status === 'ignored') {
        this.stats.add('bytes.ignored', left);
        return;
      }
      // Detection looks at a message's first bytes: reading on through a large range would not help it.
      const need = this.status === 'active' ? Math.min(left, this.handler!.bytesNeeded?.(dir, left) ?? left) : Math.min(left, DETECT_MAX_BYTES);
      if (need <= 0) {
        this.handler!.onGap(dir, left, time, 'skipped', from);
        return;
      }
      const data = reader.read(from.offset, need);
      if (data.length > 0) this.receive(dir, data, time, end - left + data.length, from);
      if (data.length < need) {
        reader.giveUp(left - need); // the read counted its own shortfall
        const lost = left - data.length;
        this.stats.add('gaps');
        this.stats.add('gaps.bytes', lost);
        this.gap(dir, lost, time, 'truncated', { path: origin.path, offset: from.offset + data.length });
        return;
      }
      done += need;
    }
  }

  // ---- detection ----

  private detect(dir: Direction, data: Buffer, time: bigint, end: number, file: FileOrigin | undefined): void {
    const i = dir === 'egress' ? 0 : 1;
    const held = this.held[i]!;
    const cap = this.limits.maxHeaderBytes;
    // A start line split across chunks: keep the pieces (copied, grown by doubling) and only
    // decide again once a line feed arrives, so many tiny chunks cost linear time.
    if (held.len > 0 && held.lineOnly && held.len + data.length < cap && data.indexOf(10) < 0) {
      held.buf = appendGrow(held.buf, held.len, data, 0, data.length, cap);
      held.len += data.length;
      return;
    }
    const candidate = held.len > 0 ? Buffer.concat([held.buf!.subarray(0, held.len), data]) : data;
    let more = false;
    let lineOnly = true;
    for (const det of this.proc.detectors) {
      const r = det.detect(dir, candidate);
      if (r === 'match') {
        const mineHeld = held.len > 0 ? held.buf!.subarray(0, held.len) : null;
        const mineTime = held.time;
        const other = this.held[1 - i]!;
        const otherHeld = other.len > 0 ? other.buf!.subarray(0, other.len) : null;
        const otherTime = other.time;
        this.held = [emptyHold(), emptyHold()];
        // Seen from its handshake (the kernel knows the role), with nothing dropped: the handler
        // gets both directions from their first byte.
        this.handler = det.create(this, dir, candidate, this.meta.role !== 'unknown' && !this.skippedBeforeMatch);
        this.status = 'active';
        this.stats.add(`connections.${det.protocol}`);
        // Candidates rejected before this match (attached mid-message) were skipped unparsed.
        if (this.detectBytes > 0) this.stats.add('drops.resync_bytes', this.detectBytes);
        // Held bytes end where the stream is: mine just before data, the other's at its stream's end.
        const mineEnd = end - data.length;
        if (mineHeld !== null) this.handOver(dir, mineHeld, mineTime, mineEnd);
        this.handOver(dir, data, time, mineEnd + data.length, file);
        const otherDir = dir === 'egress' ? 'ingress' : 'egress';
        if (otherHeld !== null) this.handOver(otherDir, otherHeld, otherTime, this.streamOf(otherDir).next);
        if (this.handler.done) this.stopTracking();
        return;
      }
      if (r === 'more') {
        more = true;
        if (det.lineBased !== true) lineOnly = false;
      }
    }
    if (more && candidate.length < cap) {
      held.lineOnly = lineOnly;
      if (held.len === 0) {
        held.time = time;
        held.buf = appendGrow(null, 0, data, 0, data.length, cap);
        held.len = data.length;
      } else {
        held.buf = appendGrow(held.buf, held.len, data, 0, data.length, cap);
        held.len += data.length;
      }
      return;
    }
    this.held[i] = emptyHold();
    this.skippedBeforeMatch = true;
    this.detectAttempts++;
    this.detectBytes += candidate.length;
    if (this.detectAttempts >= DETECT_MAX_ATTEMPTS || this.detectBytes >= DETECT_MAX_BYTES) {
      this.status = 'ignored';
      this.held = [emptyHold(), emptyHold()];
      this.egress.clear();
      this.ingress.clear();
      this.stats.add('connections.non_http');
      this.stats.add('bytes.ignored', this.detectBytes);
    }
  }

  private streamOf(dir: Direction): DirStream {
    return dir === 'egress' ? this.egress : this.ingress;
  }

  /** Hands bytes ending at stream offset `end` to the handler. */
  private handOver(dir: Direction, data: Buffer, time: bigint, end: number, file?: FileOrigin): void {
    this.handler!.onData(dir, data, time, end - data.length, file);
  }

  /** The handler is done (upgrade/tunnel): keep the entry (so data is not re-detected) but hold nothing. */
  private stopTracking(): void {
    this.status = 'ignored';
    this.egress.clear();
    this.ingress.clear();
  }

  /** The socket closed. */
  close(): void {
    this.egress.flush(this);
    this.ingress.flush(this);
    this.handler?.onClose();
    this.release();
  }

  /** Forced end: settle in-flight exchanges with `reason`. */
  abort(reason: IncompleteReason): void {
    if (this.status === 'active') {
      this.egress.flush(this);
      this.ingress.flush(this);
    }
    this.handler?.flush(reason);
    this.release();
  }

  release(): void {
    this.handler = null;
    this.status = 'ignored';
    this.egress.clear();
    this.ingress.clear();
    this.held = [emptyHold(), emptyHold()];
  }
}
