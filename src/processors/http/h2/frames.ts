// HTTP/2 framing (RFC 9113 §4, §6) for one direction of one connection: an incremental parser fed
// contiguous data and gaps, plus the plausibility check used to detect HTTP/2 mid-connection and
// to resynchronise after lost bytes.
//
// DATA payloads are streamed to the sink (padding removed), never accumulated. Other frames are
// accumulated up to a cap and handed over whole; a larger payload is skipped (reported with a null
// payload). Frames split across chunks and chunks holding many frames give the same callbacks in
// the same order. A gap inside a payload of known length keeps the framing (the loss is reported
// for that frame); a gap anywhere else loses frame sync: the parser then waits for a chunk that
// starts with a plausible sequence of frames (resynchronisation at chunk boundaries only; never a
// guess inside a chunk).

/** HTTP/2 error codes (RFC 9113 §7), by value: RST_STREAM and GOAWAY carry them. */
export const H2_ERROR_NAMES: readonly string[] = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

export const FRAME_HEADER_BYTES = 9;
export const DEFAULT_MAX_FRAME_SIZE = 16_384;
export const MAX_FRAME_SIZE_LIMIT = 16_777_215;

export const FT_DATA = 0;
export const FT_HEADERS = 1;
export const FT_PRIORITY = 2;
export const FT_RST_STREAM = 3;
export const FT_SETTINGS = 4;
export const FT_PUSH_PROMISE = 5;
export const FT_PING = 6;
export const FT_GOAWAY = 7;
export const FT_WINDOW_UPDATE = 8;
export const FT_CONTINUATION = 9;

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

export const FRAME_NAMES = ['DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION'];

/** Flags defined per frame type (for plausibility checks; a parser ignores unknown flags). */
const KNOWN_FLAGS = [0x09, 0x2d, 0x00, 0x00, 0x01, 0x0c, 0x01, 0x00, 0x00, 0x04];

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
  /** Timestamp of the chunk holding the frame's first byte. */
  startTime: bigint;
}

export interface FrameSink {
  /** A complete frame other than DATA. payload is null when it exceeded the accumulation cap. */
  onFrame(h: FrameHeader, payload: Buffer | null, time: bigint): void;
  /** DATA payload bytes (padding and pad length removed). */
  onData(h: FrameHeader, data: Buffer, from: number, to: number, time: bigint): void;
  /** The DATA frame's last byte was seen (or lost: lost > 0 payload bytes of it were not captured). */
  onDataEnd(h: FrameHeader, time: bigint): void;
  /** Payload bytes of frame h were not captured (h's framing survives). For DATA: content bytes. */
  onPayloadLost(h: FrameHeader, bytes: number, time: bigint): void;
  /** Frame sync was lost (gap outside a payload, or invalid frame header / preface). */
  onSyncLost(reason: 'gap' | 'truncated' | 'malformed'): void;
  /** Frame sync was found again at the start of a chunk. */
  onResync(): void;
  /** Bytes skipped while waiting for frame sync. */
  onSkipped(bytes: number): void;
}

const S_PREFACE = 0;
const S_HEADER = 1;
const S_PAYLOAD = 2; // accumulating a non-DATA payload
const S_SKIP = 3; // skipping a non-DATA payload over the cap
const S_DATA_PAD = 4; // DATA: reading the pad length
const S_DATA = 5; // DATA: content
const S_DATA_PADDING = 6; // DATA: trailing padding
const S_SCAN = 7; // frame sync lost: waiting for a plausible chunk start

export interface FrameParserOptions {
  /** Largest non-DATA payload accumulated (HEADERS/CONTINUATION fragments, SETTINGS, GOAWAY...). */
  maxPayloadBytes: number;
  /** This direction starts with the client connection preface. */
  expectPreface?: boolean;
  /** Start unsynchronised (attached mid-connection). */
  startInScan?: boolean;
  /** Attached mid-connection: the receiver's SETTINGS_MAX_FRAME_SIZE was not seen. */
  frameSizeUnknown?: boolean;
}

export class FrameParser {
  private state: number;
  private hdr = Buffer.alloc(FRAME_HEADER_BYTES);
  private hdrLen = 0;
  private hdrTime = 0n;
  private cur: FrameHeader | null = null;
  private remaining = 0; // bytes left in the current state's region
  private padLeft = 0; // DATA: padding bytes after the content
  private acc: Buffer | null = null;
  private accLen = 0;
  private prefaceSeen = 0;
  /**
   * Largest frame this direction may carry (SETTINGS_MAX_FRAME_SIZE of the receiver); null while
   * no SETTINGS said (attached mid-connection: frames up to 2^24-1 are taken when well formed).
   */
  private maxFrameSize: number | null;
  /** Frames parsed, bytes skipped while resynchronising (for stats). */
  frames = 0;
  resyncBytes = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly opts: FrameParserOptions,
  ) {
    this.state = opts.startInScan ? S_SCAN : opts.expectPreface ? S_PREFACE : S_HEADER;
    this.maxFrameSize = opts.frameSizeUnknown ? null : DEFAULT_MAX_FRAME_SIZE;
  }

  /** The receiver's SETTINGS_MAX_FRAME_SIZE (never lowered: frames sent before its ACK stay legal). */
  allowFrameSize(v: number): void {
    if (v < DEFAULT_MAX_FRAME_SIZE || v > MAX_FRAME_SIZE_LIMIT) return;
    this.maxFrameSize = Math.max(this.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, v);
  }

  /** Largest frame length taken (frames over the default are checked when the limit is unknown). */
  get frameLimit(): number {
    return this.maxFrameSize ?? MAX_FRAME_SIZE_LIMIT;
  }

  get synced(): boolean {
    return this.state !== S_SCAN;
  }

  /** Bytes held (a frame header or non-DATA payload being assembled). */
  bufferedBytes(): number {
    return this.hdrLen + (this.acc !== null ? this.acc.length : 0);
  }

  push(data: Buffer, time: bigint): void {
    let pos = 0;
    const n = data.length;
    if (this.state === S_SCAN) {
      if (plausibleFrames(data, 0, this.frameLimit, 'resync') !== 'yes') {
        this.resyncBytes += n;
        this.sink.onSkipped(n);
        return;
      }
      this.state = S_HEADER;
      this.sink.onResync();
    }
    while (pos < n) {
      switch (this.state) {
        case S_PREFACE: {
          while (pos < n && this.prefaceSeen < PREFACE.length) {
            if (data[pos] !== PREFACE[this.prefaceSeen]) {
              this.loseSync('malformed');
              return;
            }
            pos++;
            this.prefaceSeen++;
          }
          if (this.prefaceSeen === PREFACE.length) this.state = S_HEADER;
          break;
        }
        case S_HEADER: {
          if (this.hdrLen === 0 && n - pos >= FRAME_HEADER_BYTES) {
            if (!this.startFrame(data, pos, time, time)) return;
            pos += FRAME_HEADER_BYTES;
            break;
          }
          if (this.hdrLen === 0) this.hdrTime = time;
          const take = Math.min(FRAME_HEADER_BYTES - this.hdrLen, n - pos);
          data.copy(this.hdr, this.hdrLen, pos, pos + take);
          this.hdrLen += take;
          pos += take;
          if (this.hdrLen === FRAME_HEADER_BYTES) {
            this.hdrLen = 0;
            if (!this.startFrame(this.hdr, 0, this.hdrTime, time)) return;
          }
          break;
        }
        case S_PAYLOAD: {
          const take = Math.min(this.remaining, n - pos);
          data.copy(this.acc!, this.accLen, pos, pos + take);
          this.accLen += take;
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) this.endFrame(time);
          break;
        }
        case S_SKIP: {
          const take = Math.min(this.remaining, n - pos);
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) this.endFrame(time);
          break;
        }
        case S_DATA_PAD: {
          const h = this.cur!;
          const pad = data[pos++]!;
          if (pad >= h.length) {
            // Padding at least as long as the payload: a protocol error; the frame's extent is still known.
            this.remaining = h.length - 1;
            this.padLeft = 0;
            this.state = S_SKIP;
            this.cur = { ...h, type: -1 }; // skipped as an invalid frame
            this.invalid++;
            if (this.remaining === 0) this.endFrame(time);
            break;
          }
          this.remaining = h.length - 1 - pad;
          this.padLeft = pad;
          this.state = S_DATA;
          if (this.remaining === 0) this.afterData(time);
          break;
        }
        case S_DATA: {
          const take = Math.min(this.remaining, n - pos);
          if (take > 0) this.sink.onData(this.cur!, data, pos, pos + take, time);
          this.remaining -= take;
          pos += take;
          if (this.remaining === 0) this.afterData(time);
          break;
        }
        case S_DATA_PADDING: {
          const take = Math.min(this.padLeft, n - pos);
          this.padLeft -= take;
          pos += take;
          if (this.padLeft === 0) this.finishData(time);
          break;
        }
        default:
          return;
      }
    }
  }

  /** Frames whose padding was invalid (skipped). */
  invalid = 0;

  /** `bytes` bytes of this direction were not captured. */
  gap(bytes: number, time: bigint, reason: 'gap' | 'truncated'): void {
    switch (this.state) {
      case S_PAYLOAD:
      case S_SKIP: {
        const h = this.cur!;
        if (bytes <= this.remaining) {
          this.remaining -= bytes;
          if (this.state === S_PAYLOAD) {
            this.acc = null;
            this.accLen = 0;
            this.state = S_SKIP;
            if (h.type >= 0) this.sink.onPayloadLost(h, bytes, time);
          }
          if (this.remaining === 0) this.endFrame(time);
          return;
        }
        if (this.state === S_PAYLOAD && h.type >= 0) this.sink.onPayloadLost(h, this.remaining, time);
        this.cur = null;
        this.acc = null;
        this.accLen = 0;
        this.loseSync(reason);
        return;
      }
      case S_DATA_PAD:
      case S_DATA:
      case S_DATA_PADDING: {
        const h = this.cur!;
        // Bytes left in this frame: pad length byte, content, padding.
        const contentLeft = this.state === S_DATA_PAD ? -1 : this.state === S_DATA ? this.remaining : 0;
        const frameLeft = this.state === S_DATA_PAD ? this.remaining : this.state === S_DATA ? this.remaining + this.padLeft : this.padLeft;
        if (bytes < frameLeft || (bytes === frameLeft && contentLeft >= 0)) {
          if (this.state === S_DATA_PAD) {
            // The pad length itself was lost: the content size is unknown, the frame's end is known.
            this.sink.onPayloadLost(h, Math.min(bytes, h.length), time);
            this.remaining = frameLeft - bytes;
            this.cur = { ...h, type: -2 }; // rest skipped; onDataEnd is sent at its end
            this.dataSkip = h;
            this.state = S_SKIP;
            if (this.remaining === 0) this.endFrame(time);
            return;
          }
          let left = bytes;
          if (this.state === S_DATA) {
            const c = Math.min(left, this.remaining);
            if (c > 0) this.sink.onPayloadLost(h, c, time);
            this.remaining -= c;
            left -= c;
            if (this.remaining > 0) return;
            this.state = S_DATA_PADDING;
          }
          this.padLeft -= left;
          if (this.padLeft === 0) this.finishData(time);
          return;
        }
        // The gap runs past the end of this DATA frame: its end happened (END_STREAM is known).
        if (contentLeft !== 0) this.sink.onPayloadLost(h, contentLeft < 0 ? h.length : contentLeft, time);
        this.cur = null;
        this.sink.onDataEnd(h, time);
        this.loseSync(reason);
        return;
      }
      case S_SCAN:
        return;
      default:
        // At or inside a frame header, or in the preface.
        this.hdrLen = 0;
        this.loseSync(reason);
    }
  }

  /** Stops parsing (the connection is done). */
  end(): void {
    this.state = S_SCAN;
    this.acc = null;
    this.accLen = 0;
    this.hdrLen = 0;
    this.cur = null;
  }

  // ---- internals ----

  private dataSkip: FrameHeader | null = null;

  private loseSync(reason: 'gap' | 'truncated' | 'malformed'): void {
    this.state = S_SCAN;
    this.hdrLen = 0;
    this.acc = null;
    this.accLen = 0;
    this.cur = null;
    this.sink.onSyncLost(reason);
  }

  /** Starts the frame whose header is at buf[at..at+9). Returns false when framing is lost. */
  private startFrame(buf: Buffer, at: number, startTime: bigint, time: bigint): boolean {
    const length = (buf[at]! << 16) | (buf[at + 1]! << 8) | buf[at + 2]!;
    const type = buf[at + 3]!;
    const flags = buf[at + 4]!;
    const streamId = buf.readUInt32BE(at + 5) & 0x7fffffff;
    if (length > this.frameLimit || (length > DEFAULT_MAX_FRAME_SIZE && this.maxFrameSize === null && !headerPlausible(buf, at, MAX_FRAME_SIZE_LIMIT, null))) {
      this.loseSync('malformed');
      return false;
    }
    const h: FrameHeader = { length, type, flags, streamId, startTime };
    this.cur = h;
    this.frames++;
    if (type === FT_DATA) {
      if (flags & FLAG_PADDED) {
        if (length === 0) {
          this.remaining = 0;
          this.invalid++;
          this.cur = { ...h, type: -1 };
          this.state = S_SKIP;
          this.endFrame(time);
          return true;
        }
        this.remaining = length;
        this.state = S_DATA_PAD;
      } else {
        this.remaining = length;
        this.padLeft = 0;
        this.state = S_DATA;
        if (length === 0) this.afterData(time);
      }
      return true;
    }
    this.remaining = length;
    if (length > this.opts.maxPayloadBytes || type > FT_CONTINUATION) {
      this.state = S_SKIP;
    } else {
      this.state = S_PAYLOAD;
      this.acc = length > 0 ? Buffer.allocUnsafe(length) : null;
      this.accLen = 0;
    }
    if (length === 0) this.endFrame(time);
    return true;
  }

  private endFrame(time: bigint): void {
    const h = this.cur!;
    const payload = this.state === S_PAYLOAD ? (this.acc ?? Buffer.alloc(0)) : null;
    this.acc = null;
    this.accLen = 0;
    this.cur = null;
    this.state = S_HEADER;
    if (h.type === -2 && this.dataSkip !== null) {
      const d = this.dataSkip;
      this.dataSkip = null;
      this.sink.onDataEnd(d, time);
      return;
    }
    if (h.type < 0) return; // invalid frame, skipped
    this.sink.onFrame(h, payload, time);
  }

  private afterData(time: bigint): void {
    if (this.padLeft > 0) this.state = S_DATA_PADDING;
    else this.finishData(time);
  }

  private finishData(time: bigint): void {
    const h = this.cur!;
    this.cur = null;
    this.state = S_HEADER;
    this.sink.onDataEnd(h, time);
  }
}

/**
 * Could data[from..] start with HTTP/2 frames? Walks frame headers with strict checks: known type,
 * only defined flags, reserved bit clear, stream id zero exactly for connection frames, fixed
 * payload lengths (PRIORITY 5, RST_STREAM 4, PING 8, WINDOW_UPDATE 4, SETTINGS a multiple of 6 and
 * empty with ACK, GOAWAY at least 8), padding shorter than the payload, CONTINUATION only right
 * after an unfinished HEADERS/PUSH_PROMISE of the same stream, length within maxFrameSize.
 *
 * mode 'detect' (deciding that a connection is HTTP/2): 'yes' needs at least two complete frames
 * (a single frame asks for 'more'). mode 'resync' (a chunk start after lost bytes): frames that end
 * exactly with the data, or at least two complete frames followed by a partial one.
 */
export function plausibleFrames(data: Buffer, from: number, maxFrameSize: number, mode: 'detect' | 'resync'): 'yes' | 'no' | 'more' {
  let p = from;
  const n = data.length;
  let complete = 0;
  let openHeaders = -1; // stream id of a header block awaiting CONTINUATION
  for (;;) {
    if (p === n) {
      if (complete === 0) return 'more';
      if (openHeaders >= 0) return complete >= 2 ? 'yes' : 'more';
      if (mode === 'resync') return 'yes';
      return complete >= 2 ? 'yes' : 'more';
    }
    if (n - p < FRAME_HEADER_BYTES) {
      if (complete >= 2) return 'yes';
      // What is there of the header must already fit: length (from its first bytes) and type.
      const have = n - p;
      if (data[p]! > maxFrameSize / 65536) return 'no';
      if (have >= 3 && ((data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!) > maxFrameSize) return 'no';
      if (have >= 4 && data[p + 3]! > FT_CONTINUATION) return 'no';
      return 'more';
    }
    if (!headerPlausible(data, p, maxFrameSize, openHeaders)) return 'no';
    const length = (data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!;
    const type = data[p + 3]!;
    const flags = data[p + 4]!;
    const sid = data.readUInt32BE(p + 5);
    const body = p + FRAME_HEADER_BYTES;
    if (n - body >= 1 && flags & FLAG_PADDED && (type === FT_DATA || type === FT_HEADERS || type === FT_PUSH_PROMISE)) {
      if (data[body]! >= length) return 'no';
    }
    if (type === FT_WINDOW_UPDATE && n - body >= 4 && (data.readUInt32BE(body) & 0x7fffffff) === 0) return 'no';
    if (type === FT_SETTINGS && !(flags & FLAG_ACK)) {
      // Known settings must have valid values (ENABLE_PUSH 0/1, INITIAL_WINDOW_SIZE <= 2^31-1, MAX_FRAME_SIZE range).
      for (let q = body; q + 6 <= Math.min(n, body + length); q += 6) {
        const id = data.readUInt16BE(q);
        const v = data.readUInt32BE(q + 2);
        if ((id === 2 && v > 1) || (id === 4 && v > 0x7fffffff) || (id === 5 && (v < 16_384 || v > MAX_FRAME_SIZE_LIMIT))) return 'no';
      }
    }
    if (type === FT_HEADERS || type === FT_PUSH_PROMISE) openHeaders = flags & FLAG_END_HEADERS ? -1 : sid;
    else if (type === FT_CONTINUATION && flags & FLAG_END_HEADERS) openHeaders = -1;
    if (n - body < length) {
      // The last frame continues past the data.
      return complete >= 2 ? 'yes' : 'more';
    }
    p = body + length;
    complete++;
  }
}

/**
 * The checks of plausibleFrames on the frame header at data[p..p+9) (no payload byte needed).
 * openHeaders: the stream id of a header block awaiting CONTINUATION, -1 for none, null when not
 * known (the order of header blocks is not checked).
 */
function headerPlausible(data: Buffer, p: number, maxFrameSize: number, openHeaders: number | null): boolean {
  const length = (data[p]! << 16) | (data[p + 1]! << 8) | data[p + 2]!;
  const type = data[p + 3]!;
  const flags = data[p + 4]!;
  if (data[p + 5]! & 0x80) return false;
  const sid = data.readUInt32BE(p + 5);
  if (type > FT_CONTINUATION || length > maxFrameSize) return false;
  if ((flags & ~KNOWN_FLAGS[type]!) !== 0) return false;
  const connLevel = type === FT_SETTINGS || type === FT_PING || type === FT_GOAWAY;
  if (connLevel ? sid !== 0 : type !== FT_WINDOW_UPDATE && sid === 0) return false;
  if (openHeaders !== null && (openHeaders >= 0 ? type !== FT_CONTINUATION || sid !== openHeaders : type === FT_CONTINUATION)) return false;
  switch (type) {
    case FT_PRIORITY:
      return length === 5;
    case FT_RST_STREAM:
    case FT_WINDOW_UPDATE:
      return length === 4;
    case FT_PING:
      return length === 8;
    case FT_SETTINGS:
      return flags & FLAG_ACK ? length === 0 : length % 6 === 0;
    case FT_GOAWAY:
      return length >= 8;
    case FT_PUSH_PROMISE:
      return length >= 4 + (flags & FLAG_PADDED ? 1 : 0) && sid % 2 === 1;
    case FT_HEADERS:
      return length >= (flags & FLAG_PADDED ? 1 : 0) + (flags & FLAG_PRIORITY ? 5 : 0);
    case FT_DATA:
      return !(flags & FLAG_PADDED) || length >= 1;
  }
  return true;
}

/** Does data start with (a prefix of) the client connection preface? */
export function prefaceMatch(data: Buffer): 'match' | 'no' | 'more' {
  const m = Math.min(data.length, PREFACE.length);
  for (let i = 0; i < m; i++) if (data[i] !== PREFACE[i]) return 'no';
  return m === PREFACE.length ? 'match' : 'more';
}
