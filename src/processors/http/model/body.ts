// Body accounting shared by every protocol: decoded size, bytes lost in bridged gaps, bytes
// skipped because nothing needed them, what was sent from files or moved kernel-side, capture for
// export or inspection, the SSE end scan.

import type { FileOrigin } from '../../../core/types';
import type { ByteOrigin, HandlerLimits } from '../core/contract';
import type { Counters } from '../core/counters';
import type { HttpMessage } from './exchange';
import { SseEnd } from './sse-end';

/** What of a message's body was sent from files (sendfile): the tcpsniff.sendfile.* attributes. */
export interface FileBody {
  /** The file of the first body byte sent from a file, and that byte's file offset. */
  path: string;
  offset: number;
  /**
   * Body bytes sent from files; of those the ones that could not be read again when needed (a
   * gap), and the ones nothing needed (skipped: never read).
   */
  bytes: number;
  unreadBytes: number;
  skippedBytes: number;
  /** Contiguous file ranges (a body sent in several calls that continue each other is one). */
  ranges: number;
  /** Where the latest range ends, to tell a continuation from a new range. */
  lastPath: string;
  lastEnd: number;
}

/**
 * The file the chunk being parsed was sent from: `end` is the file offset after its last byte
 * (parsers that prepend held bytes count from the end).
 */
export interface FileSource {
  path: string;
  offset: number;
  end: number;
}

/** The FileSource of a chunk of `length` bytes handed over with `file`; null when it came from memory. */
export function fileSource(file: FileOrigin | undefined, length: number): FileSource | null {
  return file === undefined ? null : { path: file.path, offset: file.offset, end: file.offset + length };
}

/**
 * Body bytes data[from..to) of `m` were received (`file`: the chunk ending with data's last byte
 * was sent from it): counted, attributed to their file, kept as the limits say.
 */
export function bodyData(m: HttpMessage, data: Buffer, from: number, to: number, time: bigint, file: FileSource | null, lim: HandlerLimits): void {
  const len = to - from;
  if (len <= 0) return;
  m.bodySize += len;
  m.endTime = time;
  if (file !== null) noteFileBody(m, file.path, file.end - (data.length - from), len, 0);
  // Bodies of messages that belong to no exchange (unpaired responses) are not kept.
  keepBody(m, data, from, to, time, lim);
}

/**
 * A gap inside a body of known extent was bridged: its `bytes` are body bytes not captured
 * (framing goes on). `origin`: how they bypassed user memory (the gap's, handed over with it).
 */
export function bodyLost(m: HttpMessage, bytes: number, time: bigint, origin: ByteOrigin | undefined, stats: Counters): void {
  m.bodySize += bytes;
  m.lostBytes += bytes;
  m.bodyTruncated = true;
  m.sse?.lost();
  m.endTime = time;
  if (origin === 'kernel_side') m.kernelSideBytes += bytes;
  else if (origin !== undefined) noteFileBody(m, origin.path, origin.offset, bytes, bytes);
  stats.add('gaps.bridged');
}

/**
 * How many of the next `bytes` body bytes of `m` (from the first) its accounting must see: those
 * it keeps (export, inspection), or all when it scans them (an SSE response's end). The others
 * may be skipped (bodySkipped) without reading them.
 */
export function bodyBytesNeeded(m: HttpMessage, bytes: number, lim: HandlerLimits): number {
  if (!m.isRequest && (m.sse === undefined ? isEventStream(m.head?.contentType) : m.sse !== null)) return bytes;
  if (m.exchange === null || m.bodyTruncated) return 0;
  if (m.bodyCap < 0) m.bodyCap = bodyCapFor(lim, m);
  return Math.min(bytes, Math.max(0, m.bodyCap - m.bodyCaptured));
}

/**
 * `bytes` body bytes of `m` were not captured on purpose, nothing needing their content (see
 * bodyBytesNeeded): counted in its size, not lost. `origin`: the file they were sent from.
 */
export function bodySkipped(m: HttpMessage, bytes: number, time: bigint, origin?: ByteOrigin): void {
  m.bodySize += bytes;
  m.skippedBytes += bytes;
  m.endTime = time;
  // Not kept, as keepBody marks the bytes it does not keep.
  if (m.exchange !== null) m.bodyTruncated = true;
  m.sse?.lost();
  if (origin !== undefined && origin !== 'kernel_side') noteFileBody(m, origin.path, origin.offset, bytes, 0, bytes);
}

function noteFileBody(m: HttpMessage, path: string, offset: number, bytes: number, unread: number, skipped = 0): void {
  const f = m.file;
  if (f === null) {
    m.file = { path, offset, bytes, unreadBytes: unread, skippedBytes: skipped, ranges: 1, lastPath: path, lastEnd: offset + bytes };
    return;
  }
  if (f.lastPath !== path || f.lastEnd !== offset) f.ranges++;
  f.bytes += bytes;
  f.unreadBytes += unread;
  f.skippedBytes += skipped;
  f.lastPath = path;
  f.lastEnd = offset + bytes;
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

/** Capture of body bytes for export or inspection, and the SSE end scan. */
function keepBody(m: HttpMessage, data: Buffer, from: number, to: number, time: bigint, lim: HandlerLimits): void {
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
