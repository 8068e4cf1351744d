// The data model every protocol produces: a message (request or response) as it is parsed, and an
// exchange (a request and its response). Spans are built from exchanges (spans/); what a protocol
// adds beyond HTTP goes to `details` (declared by that protocol, e.g. h2/details.ts).

import type { SseEnd } from './sse-end';
import type { FileBody } from './body';

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
  'gap' | 'truncated' | 'closed' | 'malformed' | 'too_large' | 'overflow' | 'evicted' | 'idle' | 'shutdown' | 'error' | 'reset' | 'goaway';

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
   * Body bytes not captured on purpose because nothing needed their content (a file range left
   * unread): counted in bodySize, not in lostBytes.
   */
  skippedBytes = 0;
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

/**
 * What protocols add to an exchange, keyed by protocol. Empty here: each protocol declares its
 * own entry by module augmentation (h2/details.ts), and reads it in its span contributor.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by module augmentation, so it must be an interface
export interface ExchangeDetails {}

/** A request and (when it could be paired) its final response. */
export class HttpExchange {
  res: HttpMessage | null = null;
  /** Set when the exchange is settled without a response (it will never be paired). */
  noResponse = false;
  /** The first reason the exchange could not be completed; null when complete. */
  incomplete: IncompleteReason | null = null;
  emitted = false;
  /** What the protocol adds (HTTP/2 stream, gRPC call...), for its span contributor. */
  readonly details: Partial<ExchangeDetails> = {};

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
