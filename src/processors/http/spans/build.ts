// HttpExchange → SpanRecord, per the stable OpenTelemetry HTTP semantic conventions.

import { isUtf8 } from 'node:buffer';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_TRANSPORT,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { SpanKind, StatusCode, type Attributes, type ConnectionMeta, type InspectedBody, type Resource, type SpanRecord } from '../../../core/types';
import type { FileBody } from '../model/body';
import type { HttpExchange, HttpHead, HttpMessage, IncompleteReason } from '../model/exchange';
import { parseTraceparent, parseTracestate, type IdGenerator } from './trace-context';
import { redactQuery, redactUrl } from '../../../shared/url-redaction';
import type { SpanContributor, SpanDraft } from './contributor';

// Incubating (not yet stable) semantic-convention attributes, copied as the package recommends.
export const ATTR_HTTP_REQUEST_BODY_SIZE = 'http.request.body.size';
export const ATTR_HTTP_RESPONSE_BODY_SIZE = 'http.response.body.size';

// This project's attributes (documented in README.md).
export const ATTR_REQUEST_BODY_CONTENT = 'http.request.body.content';
export const ATTR_RESPONSE_BODY_CONTENT = 'http.response.body.content';
export const ATTR_INCOMPLETE = 'tcpsniff.incomplete';
export const ATTR_REQUEST_LOST_BYTES = 'tcpsniff.request.lost_bytes';
export const ATTR_RESPONSE_LOST_BYTES = 'tcpsniff.response.lost_bytes';
export const ATTR_REQUEST_KERNEL_SIDE_BYTES = 'tcpsniff.request.kernel_side_bytes';
export const ATTR_RESPONSE_KERNEL_SIDE_BYTES = 'tcpsniff.response.kernel_side_bytes';
export const ATTR_RESPONSE_UNREAD = 'tcpsniff.response.unread';
/** Prefixes of the attributes describing a body sent from files (sendfile): see addFileBody. */
export const ATTR_SENDFILE_REQUEST_PREFIX = 'tcpsniff.sendfile.request.';
export const ATTR_SENDFILE_RESPONSE_PREFIX = 'tcpsniff.sendfile.response.';
/** Suffixes of the body content attributes. */
export const BODY_ENCODING_SUFFIX = '.encoding'; // "base64" when the body is not valid UTF-8
export const BODY_TRUNCATED_SUFFIX = '.truncated'; // true when cut at max_body_bytes or by a gap

/** Methods the HTTP semantic conventions know (RFC 9110 + PATCH); case-sensitive. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

const INCOMPLETE_TEXT: Record<IncompleteReason, string> = {
  gap: 'bytes of the exchange were not captured',
  truncated: 'the capture truncated a message',
  closed: 'the connection closed before the exchange completed',
  malformed: 'a message could not be parsed',
  too_large: 'a header section exceeded the limits',
  overflow: 'too many requests were waiting for a response',
  evicted: 'the connection was evicted before the exchange completed',
  idle: 'the connection went idle before the exchange completed',
  shutdown: 'the collector shut down before the exchange completed',
  error: 'an internal error stopped parsing of the connection',
  reset: 'the stream was reset (RST_STREAM) before the response completed',
  goaway: 'the connection was shut down (GOAWAY) before the stream was processed',
};

interface Target {
  path?: string;
  query?: string;
  /** Absolute-form target (proxy request): its authority and the full URL. */
  authority?: string;
  full?: string;
}

/** Splits a request-target into path and query (origin and absolute forms). */
export function parseTarget(target: string): Target {
  let t = target;
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  if (t.startsWith('/')) return splitPathQuery(t);
  const scheme = t.indexOf('://');
  if (scheme > 0 && /^[a-zA-Z][a-zA-Z0-9+.-]*$/.test(t.slice(0, scheme))) {
    const rest = t.slice(scheme + 3);
    let slash = rest.search(/[/?]/);
    if (slash < 0) slash = rest.length;
    const pq = rest.slice(slash);
    const out = splitPathQuery(pq.startsWith('?') || pq === '' ? `/${pq}` : pq);
    return { ...out, authority: rest.slice(0, slash), full: t };
  }
  return {}; // authority form (CONNECT) or asterisk form (OPTIONS *)
}

function splitPathQuery(t: string): Target {
  const q = t.indexOf('?');
  if (q < 0) return { path: t };
  return { path: t.slice(0, q), query: t.slice(q + 1) };
}

/** "host", "host:port", "[v6]", "[v6]:port" → address and port (port undefined when absent or invalid). */
export function parseAuthority(value: string): { host: string; port?: number } | null {
  let v = value.trim();
  const at = v.lastIndexOf('@');
  if (at >= 0) v = v.slice(at + 1);
  if (v === '') return null;
  let host: string;
  let portStart = -1;
  if (v.charCodeAt(0) === 0x5b /* [ */) {
    const close = v.indexOf(']');
    if (close < 0) return null;
    host = v.slice(1, close);
    if (close + 1 < v.length) {
      if (v.charCodeAt(close + 1) !== 0x3a) return null;
      portStart = close + 2;
    }
  } else {
    const colon = v.indexOf(':');
    if (colon >= 0 && v.indexOf(':', colon + 1) < 0) {
      host = v.slice(0, colon);
      portStart = colon + 1;
    } else host = v; // no port, or a bare IPv6 address
  }
  if (host === '') return null;
  if (portStart < 0 || portStart >= v.length || v.length - portStart > 5) return { host };
  let port = 0;
  for (let i = portStart; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return { host };
    port = port * 10 + (c - 48);
  }
  return port <= 65535 ? { host, port } : { host };
}

const bracket = (addr: string): string => (addr.includes(':') ? `[${addr}]` : addr);

/** Decodes a captured body: UTF-8 text when valid (an incomplete trailing sequence is cut off), else base64. */
export function bodyText(parts: Buffer[] | null, truncated: boolean): { text: string; base64: boolean } {
  let buf = parts === null ? Buffer.alloc(0) : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  if (truncated) buf = buf.subarray(0, utf8Boundary(buf));
  if (isUtf8(buf)) return { text: buf.toString('utf8'), base64: false };
  const whole = parts === null ? buf : parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  return { text: whole.toString('base64'), base64: true };
}

/** Length of buf without a trailing incomplete UTF-8 sequence. */
function utf8Boundary(buf: Buffer): number {
  const n = buf.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = buf[n - back]!;
    if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

export interface SpanContext {
  meta: ConnectionMeta;
  resource: Resource;
  ids: IdGenerator;
  captureBodies: boolean;
  /** Bodies longer than this are cut on export (they may have been kept longer for inspection). */
  maxBodyBytes?: number;
  /** The one thread that moved every byte of the connection so far (-1: several did). */
  thread?: number;
  /** Kernel start time of the process (ns since boot); -1 when not known. */
  processStartNs?: number;
  /** Since when `thread` has served only its current server connection (see LinkInfo.servingSince). */
  servingSince?: bigint;
  /** What each protocol adds to its spans (registered with the protocol, protocols.ts). */
  contributors: readonly SpanContributor[];
}

/** Captured header attributes (capture_headers), per the HTTP conventions: string arrays. */
export const ATTR_REQUEST_HEADER_PREFIX = 'http.request.header.';
export const ATTR_RESPONSE_HEADER_PREFIX = 'http.response.header.';

export function buildSpan(ex: HttpExchange, c: SpanContext): SpanRecord {
  const req = ex.req;
  const res = ex.res;
  const head = req.head!;
  const meta = c.meta;
  const attrs: Attributes = {};

  // A protocol whose calls are not HTTP requests (gRPC) owns its spans: no http.* / url.* attributes.
  const owner = c.contributors.find((k) => k.owns?.(ex) === true) ?? null;
  let name: string;
  if (owner !== null) {
    name = '';
  } else if (KNOWN_METHODS.has(head.method)) {
    attrs[ATTR_HTTP_REQUEST_METHOD] = head.method;
    name = head.method;
  } else {
    attrs[ATTR_HTTP_REQUEST_METHOD] = '_OTHER';
    if (head.method !== '') attrs[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = head.method;
    name = 'HTTP';
  }
  const status = res?.head?.status ?? 0;
  if (status > 0 && owner === null) attrs[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
  const scheme = head.scheme === 'https' || meta.tls === true ? 'https' : 'http';
  const defaultPort = scheme === 'https' ? 443 : 80;

  const target = parseTarget(head.target);
  // server.address/port: absolute-form authority, else Host header, else the server endpoint.
  // Unix sockets have no address or port; their path is the peer address.
  const unixPath = meta.family === 0 ? (meta.path ?? '') : undefined;
  const serverEndpoint =
    unixPath !== undefined
      ? { host: 'localhost', port: 80 }
      : ex.clientSide
        ? { host: meta.remoteAddr, port: meta.remotePort }
        : { host: meta.localAddr, port: meta.localPort };
  const authorityText = target.authority ?? head.host;
  const authority = authorityText !== undefined ? parseAuthority(authorityText) : null;
  const serverAddress = authority?.host ?? serverEndpoint.host;
  const serverPort = authority !== null ? (authority.port ?? defaultPort) : serverEndpoint.port;

  if (owner !== null) {
    // The owner (gRPC: rpc.*) describes the call instead of url.* / http.*.
  } else if (ex.clientSide) {
    if (target.full !== undefined) attrs[ATTR_URL_FULL] = redactUrl(target.full);
    else if (target.path !== undefined) {
      const hostPart =
        authority !== null ? authorityText!.trim() : bracket(serverEndpoint.host) + (serverEndpoint.port === defaultPort ? '' : `:${serverEndpoint.port}`);
      const hash = head.target.indexOf('#');
      attrs[ATTR_URL_FULL] = redactUrl(`${scheme}://${hostPart}${hash < 0 ? head.target : head.target.slice(0, hash)}`);
    }
  } else {
    attrs[ATTR_URL_SCHEME] = scheme;
    if (target.path !== undefined) attrs[ATTR_URL_PATH] = target.path;
    if (target.query !== undefined && target.query !== '') attrs[ATTR_URL_QUERY] = redactQuery(target.query);
  }
  if (serverAddress !== '') {
    attrs[ATTR_SERVER_ADDRESS] = serverAddress;
    attrs[ATTR_SERVER_PORT] = serverPort;
  }
  if (!ex.clientSide && meta.remoteAddr !== '') attrs[ATTR_CLIENT_ADDRESS] = meta.remoteAddr;
  if (unixPath !== undefined) {
    attrs[ATTR_NETWORK_TRANSPORT] = 'unix';
    if (unixPath !== '') attrs[ATTR_NETWORK_PEER_ADDRESS] = unixPath;
  } else if (meta.remoteAddr !== '') {
    attrs[ATTR_NETWORK_PEER_ADDRESS] = meta.remoteAddr;
    attrs[ATTR_NETWORK_PEER_PORT] = meta.remotePort;
  }
  attrs[ATTR_NETWORK_PROTOCOL_VERSION] = res?.head?.version ?? head.version;
  if (head.userAgent !== undefined) attrs[ATTR_USER_AGENT_ORIGINAL] = head.userAgent;
  if (owner === null) {
    if (req.hasBody || req.bodySize > 0) attrs[ATTR_HTTP_REQUEST_BODY_SIZE] = req.bodySize;
    if (res !== null && (res.hasBody || res.bodySize > 0)) attrs[ATTR_HTTP_RESPONSE_BODY_SIZE] = res.bodySize;
  }
  if (req.lostBytes > 0) attrs[ATTR_REQUEST_LOST_BYTES] = req.lostBytes;
  if (res !== null && res.lostBytes > 0) attrs[ATTR_RESPONSE_LOST_BYTES] = res.lostBytes;
  if (req.kernelSideBytes > 0) attrs[ATTR_REQUEST_KERNEL_SIDE_BYTES] = req.kernelSideBytes;
  if (res !== null && res.kernelSideBytes > 0) attrs[ATTR_RESPONSE_KERNEL_SIDE_BYTES] = res.kernelSideBytes;
  if (res?.unread != null) attrs[ATTR_RESPONSE_UNREAD] = res.unread;
  if (req.file !== null) addFileBody(attrs, ATTR_SENDFILE_REQUEST_PREFIX, req.file);
  if (res?.file != null) addFileBody(attrs, ATTR_SENDFILE_RESPONSE_PREFIX, res.file);
  if (c.captureBodies) {
    const cap = c.maxBodyBytes ?? Infinity;
    addBody(attrs, ATTR_REQUEST_BODY_CONTENT, req, cap);
    if (res !== null) addBody(attrs, ATTR_RESPONSE_BODY_CONTENT, res, cap);
  }
  const sensitive: string[] = [];
  addHeaders(attrs, ATTR_REQUEST_HEADER_PREFIX, head, sensitive);
  if (res?.head) addHeaders(attrs, ATTR_RESPONSE_HEADER_PREFIX, res.head, sensitive);

  const draft: SpanDraft = { name, attrs, events: [], error: null, streamId: -1 };
  for (const k of c.contributors) k.contribute(ex, draft);
  name = draft.name;
  let statusRec: SpanRecord['status'] = { code: StatusCode.UNSET };
  if (ex.incomplete !== null) {
    attrs[ATTR_INCOMPLETE] = ex.incomplete;
    attrs[ATTR_ERROR_TYPE] = ex.incomplete;
    statusRec = { code: StatusCode.ERROR, message: `incomplete exchange: ${INCOMPLETE_TEXT[ex.incomplete]}` };
  } else if (owner !== null) {
    if (draft.error !== null) {
      attrs[ATTR_ERROR_TYPE] = draft.error;
      statusRec = { code: StatusCode.ERROR };
    }
  } else if (status >= 500 || (ex.clientSide && status >= 400)) {
    attrs[ATTR_ERROR_TYPE] = String(status);
    statusRec = { code: StatusCode.ERROR };
  }

  const start = req.startTime;
  let end = res !== null ? res.endTime : req.endTime;
  if (end < start) end = start;

  const span: SpanRecord = {
    traceId: '',
    spanId: c.ids.spanId(),
    name,
    kind: ex.clientSide ? SpanKind.CLIENT : SpanKind.SERVER,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes: attrs,
    events: draft.events,
    status: statusRec,
    resource: c.resource,
    internal: {
      conn: { family: meta.family, localAddr: meta.localAddr, localPort: meta.localPort, remoteAddr: meta.remoteAddr, remotePort: meta.remotePort },
      pid: ex.pid,
      comm: ex.comm,
    },
  };
  const internal = span.internal!;
  if (req.inspect && req.body !== null) internal.request = inspected(req);
  if (res !== null && res.inspect && res.body !== null) internal.response = inspected(res);
  if (sensitive.length > 0) internal.redactedAtSource = sensitive;
  internal.link = {
    connId: meta.connId,
    role: meta.role,
    requestOffset: req.startOffset,
    responseOffset: res?.startOffset ?? -1,
    h2StreamId: draft.streamId,
    inode: meta.inode ?? 0,
    peerInode: meta.peerInode ?? 0,
    thread: c.thread ?? -1,
    servingSince: c.servingSince ?? -1n,
    processStartNs: c.processStartNs ?? -1,
    requestStart: req.startTime,
    requestEnd: req.endTime,
    responseStart: res?.startTime ?? 0n,
    responseEnd: res?.endTime ?? 0n,
  };
  const tp = parseTraceparent(head.traceparentCount === 1 ? head.traceparent : undefined);
  if (tp !== null) {
    span.traceId = tp.traceId;
    span.parentSpanId = tp.parentId;
    span.remoteParentSpanId = tp.parentId;
    span.traceFlags = tp.flags;
    const ts = parseTracestate(head.tracestate);
    if (ts !== undefined) span.traceState = ts;
  } else {
    span.traceId = c.ids.traceId();
  }
  return span;
}

function addBody(attrs: Attributes, key: string, m: HttpMessage, cap: number): void {
  if (m.bodySize === 0) return;
  let parts = m.body;
  let cut = m.bodyTruncated;
  if (parts !== null && m.bodyCaptured > cap) {
    // Kept longer for inspection: export only max_body_bytes.
    parts = [Buffer.concat(parts).subarray(0, cap)];
    cut = true;
  }
  const { text, base64 } = bodyText(parts, cut);
  attrs[key] = text;
  if (base64) attrs[key + BODY_ENCODING_SUFFIX] = 'base64';
  if (cut || m.bodyCaptured < m.bodySize) attrs[key + BODY_TRUNCATED_SUFFIX] = true;
}

/**
 * The body (or part of it) never passed through user memory: which file it was sent from, and
 * whether the span's view of those bytes was read again from the file, skipped (nothing needed
 * them) or is a gap.
 */
function addFileBody(attrs: Attributes, prefix: string, f: FileBody): void {
  attrs[prefix + 'path'] = f.path;
  attrs[prefix + 'offset'] = f.offset;
  attrs[prefix + 'bytes'] = f.bytes;
  if (f.ranges > 1) attrs[prefix + 'ranges'] = f.ranges;
  if (f.unreadBytes > 0) attrs[prefix + 'unread_bytes'] = f.unreadBytes;
  if (f.skippedBytes > 0) attrs[prefix + 'skipped_bytes'] = f.skippedBytes;
  attrs[prefix + 'capture'] = f.unreadBytes === f.bytes ? 'gap' : f.unreadBytes > 0 ? 'partial' : f.skippedBytes === f.bytes ? 'skipped' : 'reread';
}

function addHeaders(attrs: Attributes, prefix: string, head: HttpHead, sensitive: string[]): void {
  if (head.captured === undefined) return;
  for (const [name, value] of head.captured) {
    const key = prefix + name;
    const prev = attrs[key];
    attrs[key] = Array.isArray(prev) ? [...(prev as string[]), value] : [value];
  }
  for (const name of head.capturedSensitive ?? []) if (!sensitive.includes(prefix + name)) sensitive.push(prefix + name);
}

function inspected(m: HttpMessage): InspectedBody {
  const out: InspectedBody = { parts: m.body!, times: m.bodyTimes ?? [], truncated: m.bodyTruncated || m.bodyCaptured < m.bodySize };
  if (m.head?.contentType !== undefined) out.contentType = m.head.contentType;
  if (m.head?.contentEncoding !== undefined) out.contentEncoding = m.head.contentEncoding;
  return out;
}
