// Data that flows between pipeline stages. Receivers produce CaptureChunks; the http
// processor turns them into SpanRecords; span processors and exporters consume SpanRecords.

import { SpanStatusCode } from '@opentelemetry/api';

export type Direction = 'egress' | 'ingress'; // egress = bytes this process sent, ingress = received
export type Role = 'client' | 'server' | 'unknown';

/** What a receiver knows about one end of a connection, as seen by one process. */
export interface ConnectionMeta {
  /** Stable identity for the life of the socket (not pid+fd, which are reused). */
  connId: string;
  family: 4 | 6 | 0; // 0 = not an IP socket (unix receiver)
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  /** From the kernel's view of the handshake; 'unknown' when the collector attached mid-connection. */
  role: Role;
  /** For unix sockets: the socket path (abstract names start with '@'). */
  path?: string;
  /**
   * For unix sockets: the inode numbers of this end and of its peer (as `ss -x` shows them), read
   * when the socket was first seen; 0: not known (a client's peer before the server accepted).
   */
  inode?: number;
  peerInode?: number;
  /** The bytes are the plaintext of a TLS session on this connection (read from the TLS library). */
  tls?: boolean;
}

/**
 * 'data': bytes of the stream. 'close': the socket closed. 'process': a description of the
 * process behind a connection (see `process`), sent before its first data chunk — read in the
 * kernel while the process is alive, so short-lived clients keep their command line.
 */
export type ChunkKind = 'data' | 'close' | 'process';

/** What the kernel saw of a process, in its own syscall context. */
export interface ProcessInfo {
  pid: number;
  /** Kernel start time (ns since boot): with pid, identifies one incarnation of a reused pid. */
  startTimeNs: number;
  /** Basename of the executable ('' when unknown). */
  exe: string;
  /** argv as the process sees it ([] when unreadable). */
  args: string[];
}

/**
 * Where the bytes of a chunk were sent from when they never passed through user memory
 * (sendfile): the file, and the file offset of the chunk's first byte. Either the chunk's data is
 * the range read again from the file and what could not be read is its lostAfter, or (`reader`
 * set) the range has not been read: its lostAfter bytes are read only by whoever needs them.
 */
export interface FileOrigin {
  /** Path walked by the kernel ('' when it could not walk it). */
  path: string;
  /** File offset of the chunk's first byte. */
  offset: number;
  /**
   * The bytes were not read when captured (a gap of lostAfter bytes): this reads them on demand.
   * Bytes nobody reads are skipped (not needed), not lost.
   */
  reader?: FileRangeReader;
}

/** Reads again, on demand, the file range a sendfile sent (the sendfile receiver). */
export interface FileRangeReader {
  /**
   * `length` bytes of the file from `offset`: fewer (maybe none) when the file is shorter now,
   * gone, unreadable or over the receiver's limit. What it could not read is counted as unread.
   */
  read(offset: number, length: number): Buffer;
  /** `bytes` more of the range are given up without a read (after a failed one): counted as unread. */
  giveUp(bytes: number): void;
}

/** One contiguous piece of one direction's byte stream of one connection. */
export interface CaptureChunk {
  kind: ChunkKind;
  conn: ConnectionMeta;
  direction: Direction;
  /** Byte offset of data[0] in this direction's stream (relative to the first byte the collector could see). */
  offset: number;
  /** Payload copy owned by the consumer. Empty for 'close'. */
  data: Buffer;
  /**
   * Bytes of the same syscall that follow this chunk but were not captured
   * (message larger than max_message_bytes, or the copy failed). The stream continues at
   * offset + data.length + lostAfter, so the consumer sees a gap.
   */
  lostAfter: number;
  /** Kernel timestamp converted to wall-clock, nanoseconds since the Unix epoch. */
  timeUnixNano: bigint;
  pid: number;
  tid: number;
  comm: string;
  /** Which receiver/backend produced it, e.g. 'tcp/syscalls'. */
  source: string;
  /** Only on kind 'process'. */
  process?: ProcessInfo;
  /**
   * Only on bytes sent from a file (sendfile): data is the range read again, lostAfter what was
   * not; or, with file.reader, lostAfter is the range not read yet (data empty).
   */
  file?: FileOrigin;
  /** lostAfter counts bytes moved kernel-side (splice, vmsplice/tee): out of reach by design. */
  kernelSide?: boolean;
}

/** Receivers, and processors in front of the http processor, consume chunks. */
export interface ChunkConsumer {
  consumeChunks(chunks: CaptureChunk[]): void;
}

export type AttributeValue = string | number | boolean | string[] | number[];
export type Attributes = Record<string, AttributeValue>;

/**
 * OTLP span kinds (values of the protobuf enum, which the file format and the encoders write).
 * @opentelemetry/api numbers the same kinds from INTERNAL = 0; the SDK span view maps them.
 */
export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export type SpanKindValue = (typeof SpanKind)[keyof typeof SpanKind];

/** Status codes: @opentelemetry/api's, whose values are OTLP's too. */
export const StatusCode = { UNSET: SpanStatusCode.UNSET, OK: SpanStatusCode.OK, ERROR: SpanStatusCode.ERROR } as const;
export type StatusCodeValue = SpanStatusCode;

/** Resource of the traced process. Shared (same object) by all spans of one process. */
export interface Resource {
  attributes: Attributes;
}

export interface SpanEvent {
  name: string;
  timeUnixNano: bigint;
  attributes: Attributes;
}

export interface SpanRecord {
  traceId: string; // 32 lowercase hex
  spanId: string; // 16 lowercase hex
  parentSpanId?: string; // 16 lowercase hex
  traceState?: string;
  /** W3C trace flags of the span's context (bit 0: sampled); absent: sampled (the collector records every span it makes). */
  traceFlags?: number;
  /**
   * The parent span id a traceparent header carried (the parent ran in another process): the
   * parent is remote while parentSpanId is this id; a processor that re-parents the span locally
   * leaves it behind.
   */
  remoteParentSpanId?: string;
  name: string;
  kind: SpanKindValue;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  events: SpanEvent[];
  status: { code: StatusCodeValue; message?: string };
  resource: Resource;
  /**
   * Data for span processors only (genai, domain_filter, redaction). NEVER EXPORTED: exporters
   * serialize the fields above by name and must never serialize this one (test/unit/
   * span-internal.test.ts proves it for the file, debug and OTLP encoders).
   */
  internal?: SpanInternal;
}

/** What the http processor hands to span processors besides the exported span. */
export interface SpanInternal {
  /** The connection's endpoints, as the receiver saw them (domain_filter's IP and port rules). */
  conn?: { family: 4 | 6 | 0; localAddr: string; localPort: number; remoteAddr: string; remotePort: number };
  pid?: number;
  comm?: string;
  /**
   * Decoded (de-chunked) bodies kept for inspection (the http processor's `inspect_bodies`), capped
   * at `max_inspect_bytes`; only for POST requests with a JSON-like body and their responses.
   */
  request?: InspectedBody;
  response?: InspectedBody;
  /** Attribute keys whose values the http processor already replaced at the source (HPACK never-indexed). */
  redactedAtSource?: string[];
  /**
   * The process's argv, raw (agent rules match it; the redaction processor redacts it with its
   * policy). process.command_line is exported only when the http processor's command_line is on.
   */
  processArgs?: readonly string[];
  /** What the trace_links processor joins spans by. */
  link?: LinkInfo;
}

/**
 * Where an exchange sat on its connection and in its process, for trace assembly: the same
 * exchange seen from both ends of a local connection has mirrored endpoints (SpanInternal.conn),
 * opposite roles and the same request offset (HTTP/1) or stream id (HTTP/2).
 */
export interface LinkInfo {
  connId: string;
  /** From the handshake ('unknown': the collector attached mid-connection, offsets are not absolute). */
  role: Role;
  /** Stream offsets of the request's first byte (request direction) and the response's (response direction); HTTP/1 only, -1 when not known. */
  requestOffset: number;
  responseOffset: number;
  /** HTTP/2 stream id; -1 for HTTP/1. */
  h2StreamId: number;
  /** Unix sockets: this end's and the peer's inode numbers (0: not a unix socket, or not known). */
  inode: number;
  peerInode: number;
  /** The one thread that moved every byte of the connection up to this exchange's end; -1 when several did. */
  thread: number;
  /**
   * Since when that thread has moved bytes of no other server-side (or unknown-role) connection
   * than its current one: for a SERVER exchange, a time after requestStart means it served
   * another one meanwhile, -1n that it is not on this one or not known; for a CLIENT exchange,
   * -1n means the thread never served (no thread parent possible).
   */
  servingSince: bigint;
  /** Kernel start time of the process (ns since boot), with pid one incarnation; -1 when not known. */
  processStartNs: number;
  /** First and last byte times of the request and the response (0n: no response). */
  requestStart: bigint;
  requestEnd: bigint;
  responseStart: bigint;
  responseEnd: bigint;
}

export interface InspectedBody {
  /** Body pieces in stream order, with the capture time of each (for time to first chunk). */
  parts: Buffer[];
  times: bigint[];
  /** Cut at the cap or by a gap. */
  truncated: boolean;
  contentType?: string;
  contentEncoding?: string;
}

export interface SpanConsumer {
  consumeSpans(spans: SpanRecord[]): void;
}

/** Instrumentation scope put on every exported span. */
export const SCOPE = { name: 'tcpsniff-collector', version: '0.1.0' } as const;
