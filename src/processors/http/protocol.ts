// The contract between the http processor's connection tracking and the protocol parsers.
//
// The processor reassembles each connection's two byte streams (see reassembly.ts) and hands
// contiguous data, gaps and the close to a ProtocolHandler. Which handler runs is decided by
// content, never by port: each ProtocolDetector looks at the first bytes of a direction and says
// 'match', 'no' or 'more' (needs more bytes). HTTP/2 (http2.ts: preface or plausible frames) and
// HTTP/1 (http1.ts: start lines) both produce HttpExchange records, which the processor turns
// into spans (spans.ts).

import type { ConnectionMeta, Direction } from '../../core/types';
import { SseEnd } from './sse-end';

/**
 * Why an exchange could not be completed. Emitted as `tcpsniff.incomplete` (and error.type).
 * - gap: bytes missing from the captured stream (lost chunks) broke the message's framing, or the
 *   exchange came while the connection was resynchronising after such a gap (its response could
 *   not be paired without guessing)
 * - truncated: like gap, but the receiver cut the message (chunk.lostAfter)
 * - closed: the connection closed mid-message or before the response
 * - malformed: invalid start line, Content-Length, chunk size, Transfer-Encoding...
 * - too_large: header block over max_header_bytes or over the header count cap
 * - overflow: more than max_pending_requests requests were waiting for a response
 * - evicted: the connection was evicted (max_connections) with the exchange in flight
 * - idle: the connection was idle for idle_timeout with the exchange in flight
 * - shutdown: the processor shut down with the exchange in flight
 * - error: an internal error (bug) stopped processing of the connection
 * - reset: HTTP/2 RST_STREAM ended the stream before its response completed
 * - goaway: HTTP/2 GOAWAY said the stream would not be processed
 */
export type IncompleteReason =
  | 'gap'
  | 'truncated'
  | 'closed'
  | 'malformed'
  | 'too_large'
  | 'overflow'
  | 'evicted'
  | 'idle'
  | 'shutdown'
  | 'error'
  | 'reset'
  | 'goaway';

/** What the parsers keep of a message head: only what spans need (no other headers are stored). */
export interface HttpHead {
  /** Requests: the method token as sent (case preserved). '' for responses. */
  method: string;
  /** Requests: the request-target as sent. '' for responses. */
  target: string;
  /** Responses: the status code. 0 for requests. */
  status: number;
  /** '1.1', '1.0', or '2' for HTTP/2. */
  version: string;
  host?: string;
  userAgent?: string;
  /** Value of the traceparent header; undefined when absent or sent more than once. */
  traceparent?: string;
  traceparentCount: number;
  /** tracestate header values joined by ','. */
  tracestate?: string;
  /** -1 when absent, -2 when invalid (non-numeric, conflicting values, too large). */
  contentLength: number;
  /** A Transfer-Encoding header was present. */
  transferEncoding: boolean;
  /** ... and its last coding is chunked. */
  chunked: boolean;
  /** An Upgrade header was present. */
  upgrade: boolean;
  /** HTTP/1: the Upgrade header's value(s), joined by ','. */
  upgradeTo?: string;
  /** HTTP/2: the :scheme pseudo-header. (The :authority goes to `host`.) */
  scheme?: string;
  /** content-type (gRPC recognition; which bodies are kept for inspection). */
  contentType?: string;
  /** content-encoding (bodies kept for inspection are decoded by their reader). */
  contentEncoding?: string;
  /** Fields named in the http processor's capture_headers: [lower-case name, value], in order. */
  captured?: Array<[string, string]>;
  /** Names of captured fields that were HPACK never-indexed (their values were replaced). */
  capturedSensitive?: string[];
}

/** What an HTTP/2 stream adds to an exchange (spans.ts turns it into tcpsniff.h2.* attributes). */
export interface H2Info {
  streamId: number;
  /** Header fields that referred to dynamic-table entries the decoder never saw. */
  unknownHeaders: number;
  /** Their markers (at most MAX_UNKNOWN_MARKERS). */
  unknownFields: string[];
  /** Never-indexed fields (values are never exported). */
  sensitiveHeaders: number;
  /** RST_STREAM error code, when the stream was reset. */
  resetCode?: number;
  /** GOAWAY error code, when a GOAWAY cut the stream. */
  goawayCode?: number;
}

/** gRPC call details (spans.ts turns them into rpc.* attributes). */
export interface GrpcInfo {
  service: string;
  method: string;
  /** grpc-status from trailers (or a trailers-only response); null when not seen. */
  status: number | null;
  request: import('./grpc').GrpcFramer;
  response: import('./grpc').GrpcFramer;
  /** Recognised by its message framing: its content-type referred to a table entry never seen. */
  byFraming: boolean;
}

export type MessageState = 'open' | 'complete' | 'failed';

/**
 * What the connection's close left unseen of a response that is complete by protocol semantics
 * (emitted as `tcpsniff.response.unread`):
 * - last_chunk: HTTP/1 chunked body ended at its final SSE event; the last chunk and trailers were not seen
 * - end_stream: HTTP/2 body complete (Content-Length satisfied, or its final SSE event); the stream's end was not seen
 */
export type UnreadPart = 'last_chunk' | 'end_stream';

/** One request or response as it is being parsed. */
export class HttpMessage {
  head: HttpHead | null = null;
  /** Timestamp of the chunk holding the message's first byte. */
  readonly startTime: bigint;
  /** Stream offset of the message's first byte in its direction (HTTP/1; -1 when not known). */
  startOffset = -1;
  /** Timestamp of the chunk holding the latest byte seen so far (the last byte once complete). */
  endTime: bigint;
  /** Decoded body length (chunked framing removed), including bytes lost in bridged gaps. */
  bodySize = 0;
  /** The framing gives the message a body (Content-Length, chunked, or delimited by close). */
  hasBody = false;
  /** Body bytes that were not captured but whose extent was known (framing survived). */
  lostBytes = 0;
  /** Of lostBytes, those moved kernel-side (splice, vmsplice/tee): out of reach by design. */
  kernelSideBytes = 0;
  /**
   * Captured (decoded) body bytes: at most max_body_bytes when capture_bodies is on, at most
   * max_inspect_bytes when the body is kept for inspection (see bodyCapFor).
   */
  body: Buffer[] | null = null;
  /** Capture time of each piece of `body` (kept only for inspected bodies). */
  bodyTimes: bigint[] | null = null;
  bodyCaptured = 0;
  /** Bytes of the body to keep; -1 until the first body byte (decided by bodyCapFor). */
  bodyCap = -1;
  /** The body is kept for inspection (span.internal), not only for export. */
  inspect = false;
  bodyTruncated = false;
  /** What of the body was sent from files (sendfile); null when none was. */
  file: FileBody | null = null;
  state: MessageState = 'open';
  failReason: IncompleteReason | null = null;
  exchange: HttpExchange | null = null;
  /** A text/event-stream response body: has it reached its final event? (null: not SSE; undefined: no body byte yet) */
  sse: SseEnd | null | undefined = undefined;
  /** Complete by its own framing, but its end was never seen: the peer closed first (see UnreadPart). */
  unread: UnreadPart | null = null;

  constructor(
    readonly isRequest: boolean,
    time: bigint,
  ) {
    this.startTime = time;
    this.endTime = time;
  }
}

/** A request and (when it could be paired) its final response. */
export class HttpExchange {
  res: HttpMessage | null = null;
  /** Set when the exchange is settled without a response (it will never be paired). */
  noResponse = false;
  /** The first reason the exchange could not be completed; null when complete. */
  incomplete: IncompleteReason | null = null;
  emitted = false;
  /** HTTP/2 stream details (null for HTTP/1). */
  h2: H2Info | null = null;
  /** gRPC call details (null when not gRPC). */
  grpc: GrpcInfo | null = null;

  constructor(
    readonly req: HttpMessage,
    /** This process sent the request (CLIENT span) rather than received it (SERVER span). */
    readonly clientSide: boolean,
    readonly pid: number,
    readonly comm: string,
  ) {}

  markIncomplete(reason: IncompleteReason): void {
    if (this.incomplete === null) this.incomplete = reason;
  }

  /** Both sides are settled: the request is complete or failed, the response too (or will never come). */
  get settled(): boolean {
    if (this.req.state === 'open') return false;
    return this.noResponse || (this.res !== null && this.res.state !== 'open');
  }
}

/**
 * Appends data[from..to) to `buf` (holding `len` bytes), growing it by doubling up to `cap`
 * bytes; returns the buffer to keep. Linear overall, whatever the size of the pieces.
 */
export function appendGrow(buf: Buffer | null, len: number, data: Buffer, from: number, to: number, cap: number): Buffer {
  const need = len + (to - from);
  if (buf === null || buf.length < need) {
    const grown = Buffer.allocUnsafe(Math.max(need, Math.min(2 * (buf?.length ?? 256), cap)));
    if (buf !== null) buf.copy(grown, 0, 0, len);
    buf = grown;
  }
  data.copy(buf, len, from, to);
  return buf;
}

/** Counters shared by all parts of the processor (see README for the keys). */
export class Counters {
  private readonly m = new Map<string, number>();
  add(key: string, n = 1): void {
    this.m.set(key, (this.m.get(key) ?? 0) + n);
  }
  get values(): Record<string, number> {
    return Object.fromEntries(this.m);
  }
}

/** Limits and options the handlers need (a subset of the processor config). */
export interface HandlerLimits {
  captureBodies: boolean;
  maxBodyBytes: number;
  /** Keep JSON/SSE bodies of POST exchanges for span processors (span.internal), up to maxInspectBytes. */
  inspectBodies: boolean;
  maxInspectBytes: number;
  /** Lower-case header names to capture as http.request.header.* / http.response.header.* (empty: none). */
  captureHeaders: ReadonlySet<string>;
  maxHeaderBytes: number;
  maxPendingRequests: number;
}

/** What a protocol handler gets from the processor for one connection. */
export interface HandlerContext {
  readonly meta: ConnectionMeta;
  readonly limits: HandlerLimits;
  readonly stats: Counters;
  /** pid/comm of the latest chunk of the connection (the owning process). */
  readonly pid: number;
  readonly comm: string;
  /** Stream offset of data[0] while data is handed to the handler; -1 when not known. */
  readonly dataOffset?: number;
  /** A settled exchange; called at most once per exchange. */
  emit(ex: HttpExchange): void;
  /** While data or a gap is handed to the handler: the file those bytes were sent from, else null. */
  readonly fileSource: FileSource | null;
  /** While a gap is handed to the handler: its bytes were moved kernel-side (splice), not lost. */
  readonly kernelSideGap: boolean;
}

/** Why the bytes being handed over bypassed user memory (a HandlerContext's view of it). */
export interface BypassView {
  readonly fileSource: FileSource | null;
  readonly kernelSideGap: boolean;
}

/**
 * The file the bytes being handed over were sent from: `offset` is the file offset of the first
 * byte, `end` of the byte after the last (parsers that prepend held bytes count from the end).
 */
export interface FileSource {
  path: string;
  offset: number;
  end: number;
}

/** What of a message's body was sent from files (sendfile): the tcpsniff.sendfile.* attributes. */
export interface FileBody {
  /** The file of the first body byte sent from a file, and that byte's file offset. */
  path: string;
  offset: number;
  /** Body bytes sent from files, and of those the ones that could not be read again (a gap). */
  bytes: number;
  unreadBytes: number;
  /** Contiguous file ranges (a body sent in several calls that continue each other is one). */
  ranges: number;
  /** Where the latest range ends, to tell a continuation from a new range. */
  lastPath: string;
  lastEnd: number;
}

/** Body bytes data[from..to) came from `src` (the caller checks src is not null). */
export function fileBodyData(m: HttpMessage, src: FileSource, data: Buffer, from: number, to: number): void {
  noteFileBody(m, src.path, src.end - (data.length - from), to - from, 0);
}

/** `bytes` body bytes of a gap were bridged: note what bypassed user memory, and how. */
export function bypassedBodyLost(m: HttpMessage, why: BypassView, bytes: number): void {
  if (why.fileSource !== null) noteFileBody(m, why.fileSource.path, why.fileSource.offset, bytes, bytes);
  if (why.kernelSideGap) m.kernelSideBytes += bytes;
}

function noteFileBody(m: HttpMessage, path: string, offset: number, bytes: number, unread: number): void {
  const f = m.file;
  if (f === null) {
    m.file = { path, offset, bytes, unreadBytes: unread, ranges: 1, lastPath: path, lastEnd: offset + bytes };
    return;
  }
  if (f.lastPath !== path || f.lastEnd !== offset) f.ranges++;
  f.bytes += bytes;
  f.unreadBytes += unread;
  f.lastPath = path;
  f.lastEnd = offset + bytes;
}

/** Parses one connection's traffic in one protocol. Never throws on bad input. */
export interface ProtocolHandler {
  readonly protocol: string;
  /** True when the connection stopped being parseable as this protocol (upgrade, tunnel). */
  readonly done: boolean;
  onData(dir: Direction, data: Buffer, time: bigint): void;
  /** `bytes` bytes of `dir` were not captured; `time` is the timestamp of the last chunk before them. */
  onGap(dir: Direction, bytes: number, time: bigint, reason: 'gap' | 'truncated'): void;
  /** The socket closed: finish close-delimited messages, settle everything else as 'closed'. */
  onClose(): void;
  /** Forced end (eviction, idle, shutdown): settle everything in flight with `reason`. */
  flush(reason: IncompleteReason): void;
  /** Bytes currently held (headers being assembled, paused data, captured bodies). */
  bufferedBytes(): number;
}

export type DetectResult = 'match' | 'no' | 'more';

export interface ProtocolDetector {
  readonly protocol: string;
  /**
   * The detector decides on complete lines (HTTP/1): while only such detectors want more bytes, the
   * processor waits for a line feed before asking again. Binary detectors leave it unset.
   */
  readonly lineBased?: boolean;
  /** Looks at bytes from the start of a message boundary candidate of one direction. */
  detect(dir: Direction, data: Buffer): DetectResult;
  /**
   * Creates the handler; `dir`/`data` are what matched (the handler is then fed `data`).
   * `fromStart`: the connection was seen from its handshake and nothing of it was dropped before
   * the match, so each direction is handed over from its first byte.
   */
  create(ctx: HandlerContext, dir: Direction, data: Buffer, fromStart: boolean): ProtocolHandler;
}

function isEventStream(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.trim().toLowerCase().startsWith('text/event-stream');
}

/**
 * The connection closed before the end of response `m` was seen: is it complete by protocol
 * semantics? Its declared length was satisfied (`lengthSatisfied`, known to the caller), or its
 * SSE body ended at a final event. Otherwise it was really cut short.
 */
export function completeBeforeClose(m: HttpMessage, lengthSatisfied: boolean): boolean {
  return !m.isRequest && (lengthSatisfied || m.sse?.atFinalEvent === true);
}

/** Content types whose bodies are worth inspecting (JSON, SSE, NDJSON); absent counts as yes. */
export function inspectableType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const t = contentType.toLowerCase();
  return t.includes('json') || t.includes('event-stream') || t.startsWith('text/plain');
}

/**
 * How many bytes of a message's body to keep, decided at its first body byte (head and exchange
 * known): max_body_bytes when bodies are exported; max_inspect_bytes (at least) when the body is
 * kept for inspection: a POST request with a JSON-like (or no) content type, and the response to
 * such a request when its own content type is JSON, SSE or NDJSON.
 */
export function bodyCapFor(lim: HandlerLimits, m: HttpMessage): number {
  const exportCap = lim.captureBodies ? lim.maxBodyBytes : 0;
  if (lim.inspectBodies && m.head !== null && m.exchange !== null) {
    if (m.isRequest) m.inspect = m.head.method === 'POST' && inspectableType(m.head.contentType);
    else m.inspect = m.exchange.req.inspect && inspectableType(m.head.contentType);
  }
  return m.inspect ? Math.max(exportCap, lim.maxInspectBytes) : exportCap;
}

/** Body accounting and capture shared by HTTP/1 and HTTP/2. */
export function keepBody(m: HttpMessage, data: Buffer, from: number, to: number, time: bigint, lim: HandlerLimits): void {
  if (!m.isRequest) {
    if (m.sse === undefined) m.sse = isEventStream(m.head?.contentType) ? new SseEnd() : null;
    m.sse?.push(data, from, to);
  }
  if (m.exchange === null || m.bodyTruncated) return;
  if (m.bodyCap < 0) m.bodyCap = bodyCapFor(lim, m);
  const take = Math.min(m.bodyCap - m.bodyCaptured, to - from);
  if (take > 0) {
    // Copied: a small slice must not pin the whole chunk buffer.
    (m.body ??= []).push(Buffer.from(data.subarray(from, from + take)));
    if (m.inspect) (m.bodyTimes ??= []).push(time);
    m.bodyCaptured += take;
  }
  if (take < to - from) m.bodyTruncated = true;
}
