// HTTP/1 start lines and header blocks: plausibility checks on raw bytes (for detection and
// resynchronisation) and the parse of a complete header block (latin1, no per-byte strings).

import type { HttpHead } from '../model/exchange';

/** At most this many header lines in a block (and in a trailer section). */
export const MAX_HEADER_COUNT = 256;

// tchar per RFC 9110: "!#$%&'*+-.^_`|~" DIGIT ALPHA
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c++) TCHAR[c] = 1;
for (let c = 65; c <= 90; c++) TCHAR[c] = 1;
for (let c = 97; c <= 122; c++) TCHAR[c] = 1;

export const isTchar = (b: number): boolean => TCHAR[b] === 1;

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 48 && b <= 57;

export type Plausible = 'yes' | 'no' | 'more';

const HTTP1 = Buffer.from('HTTP/1.', 'latin1');

/**
 * Could a status line start at data[pos]? Checks "HTTP/1.d ddd" followed by SP, CR or LF
 * (reason phrase optional).
 */
export function plausibleStatusLine(data: Buffer, pos: number): Plausible {
  const n = data.length;
  for (let i = 0; i < 7; i++) {
    if (pos + i >= n) return 'more';
    if (data[pos + i] !== HTTP1[i]) return 'no';
  }
  if (pos + 7 >= n) return 'more';
  if (!isDigit(data[pos + 7])) return 'no';
  if (pos + 8 >= n) return 'more';
  if (data[pos + 8] !== 0x20) return 'no';
  for (let i = 9; i < 12; i++) {
    if (pos + i >= n) return 'more';
    if (!isDigit(data[pos + i])) return 'no';
  }
  if (pos + 12 >= n) return 'more';
  const b = data[pos + 12];
  return b === 0x20 || b === 0x0d || b === 0x0a ? 'yes' : 'no';
}

/**
 * Could a request line start at data[pos]? strict=false (at an expected message boundary):
 * a token followed by SP. strict=true (scanning for a resynchronisation point, where false
 * positives matter): an upper-case method of at most 20 characters, SP, then a target starting
 * with '/', '*' or 'h' (absolute form), or anything for CONNECT.
 */
export function plausibleRequestLine(data: Buffer, pos: number, strict: boolean): Plausible {
  const n = data.length;
  let i = pos;
  const maxLen = strict ? 20 : 64;
  while (i < n && i - pos <= maxLen) {
    const b = data[i]!;
    if (b === 0x20) break;
    if (strict ? !((b >= 65 && b <= 90) || b === 0x2d || b === 0x5f) : TCHAR[b] !== 1) return 'no';
    i++;
  }
  if (i >= n) return i - pos > maxLen ? 'no' : 'more';
  if (data[i] !== 0x20 || i === pos) return 'no';
  if (!strict) return 'yes';
  if (i + 1 >= n) return 'more';
  const t = data[i + 1];
  if (t === 0x2f || t === 0x2a || t === 0x68) return 'yes';
  return i - pos === 7 && data.toString('latin1', pos, i) === 'CONNECT' && t !== 0x20 && t !== 0x0d && t !== 0x0a ? 'yes' : 'no';
}

export type StartLine = { kind: 'request'; method: string; target: string; version: string } | { kind: 'response'; status: number; version: string };

/** "1.0" … "1.9" by minor digit: one string each, not one per message. */
const HTTP1_VERSIONS = Array.from({ length: 10 }, (_, d) => `1.${d}`);

/** Validates a complete start line (without its line ending). */
export function parseStartLine(line: string): StartLine | null {
  if (line.startsWith('HTTP/')) {
    // HTTP/1.d SP ddd [SP reason]
    if (line.length < 12 || !line.startsWith('HTTP/1.')) return null;
    const v = line.charCodeAt(7);
    if (v < 48 || v > 57 || line.charCodeAt(8) !== 0x20) return null;
    let status = 0;
    for (let i = 9; i < 12; i++) {
      const c = line.charCodeAt(i);
      if (c < 48 || c > 57) return null;
      status = status * 10 + (c - 48);
    }
    if (line.length > 12 && line.charCodeAt(12) !== 0x20) return null;
    if (status < 100) return null;
    return { kind: 'response', status, version: HTTP1_VERSIONS[v - 48]! };
  }
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1) return null;
  for (let i = 0; i < sp1; i++) if (TCHAR[line.charCodeAt(i)] !== 1) return null;
  const version = line.slice(sp2 + 1);
  if (version.length !== 8 || !version.startsWith('HTTP/1.')) return null;
  const v = version.charCodeAt(7);
  if (v < 48 || v > 57) return null;
  const target = line.slice(sp1 + 1, sp2);
  if (target.length === 0 || target.includes(' ')) return null;
  return { kind: 'request', method: line.slice(0, sp1), target, version: HTTP1_VERSIONS[v - 48]! };
}

/** The first line of `text` (without CR LF), or null when it has no line ending yet. */
export function firstLine(text: string): string | null {
  const lf = text.indexOf('\n');
  if (lf < 0) return null;
  return text.charCodeAt(lf - 1) === 13 ? text.slice(0, lf - 1) : text.slice(0, lf);
}

/** A head whose only known part is its start line (a partial head cut by a gap or a cap). */
export function headFromStartLine(sl: StartLine): HttpHead {
  return {
    method: sl.kind === 'request' ? sl.method : '',
    target: sl.kind === 'request' ? sl.target : '',
    status: sl.kind === 'response' ? sl.status : 0,
    version: sl.version,
    traceparentCount: 0,
    contentLength: -1,
    transferEncoding: false,
    chunked: false,
    upgrade: false,
  };
}

const MAX_CONTENT_LENGTH = Number.MAX_SAFE_INTEGER;

/** Decimal digits only, at most 16, up to 2^53-1; else -2. */
function parseDecimal(s: string): number {
  if (s.length === 0 || s.length > 16) return -2;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -2;
    n = n * 10 + (c - 48);
  }
  return n > MAX_CONTENT_LENGTH ? -2 : n;
}

function parseContentLength(value: string, prev: number): number {
  // A list ("10, 10") or repeated headers must all carry the same valid value (RFC 9110 §8.6).
  const parts = value.includes(',') ? value.split(',').map((x) => x.trim()) : [value];
  let result = prev;
  for (const part of parts) {
    const n = parseDecimal(part);
    if (n === -2) return -2;
    if (result === -1) result = n;
    else if (result !== n) return -2;
  }
  return result;
}

/** text[p..p+name.length) equals the lower-case `name`, ignoring ASCII case. */
function nameIs(text: string, p: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    let c = text.charCodeAt(p + i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== name.charCodeAt(i)) return false;
  }
  return true;
}

/** A header value without surrounding whitespace (OWS). */
const valueOf = (text: string, colon: number, le: number): string => text.slice(colon + 1, le).trim();

/**
 * Parses a complete header block (start line, header lines, final empty line) of a request
 * (`isRequest`) or response. Returns the head, or the reason it is unusable.
 */
export function parseHead(block: Buffer, isRequest: boolean, capture?: ReadonlySet<string>): HttpHead | 'malformed' | 'too_large' {
  const capturing = capture !== undefined && capture.size > 0;
  const text = block.toString('latin1');
  const lf = text.indexOf('\n');
  if (lf < 0) return 'malformed';
  const line = text.charCodeAt(lf - 1) === 13 ? text.slice(0, lf - 1) : text.slice(0, lf);
  const sl = parseStartLine(line);
  if (sl === null || (sl.kind === 'request') !== isRequest) return 'malformed';
  const head = headFromStartLine(sl);

  let p = lf + 1;
  let count = 0;
  let colon = -1;
  const end = text.length;
  while (p < end) {
    let e = text.indexOf('\n', p);
    if (e < 0) e = end;
    let le = e;
    if (le > p && text.charCodeAt(le - 1) === 13) le--;
    if (le === p) break; // the empty line ending the block
    if (++count > MAX_HEADER_COUNT) return 'too_large';
    if (colon < p) {
      colon = text.indexOf(':', p);
      if (colon < 0) colon = end; // no colon in the rest of the block
    }
    // Lines without a colon (and obs-fold continuations) carry nothing we use: skip them.
    if (colon > p && colon < le) {
      // Only the names we use are compared (by length first, then case-insensitively in place).
      switch (colon - p) {
        case 4:
          if (head.host === undefined && nameIs(text, p, 'host')) head.host = valueOf(text, colon, le);
          break;
        case 7:
          if (nameIs(text, p, 'upgrade')) {
            head.upgrade = true;
            const v = valueOf(text, colon, le);
            head.upgradeTo = head.upgradeTo === undefined ? v : `${head.upgradeTo},${v}`;
          }
          break;
        case 10:
          if (nameIs(text, p, 'user-agent')) {
            if (head.userAgent === undefined) head.userAgent = valueOf(text, colon, le);
          } else if (nameIs(text, p, 'tracestate')) {
            const v = valueOf(text, colon, le);
            head.tracestate = head.tracestate === undefined ? v : `${head.tracestate},${v}`;
          }
          break;
        case 11:
          if (nameIs(text, p, 'traceparent')) {
            head.traceparentCount++;
            head.traceparent = head.traceparentCount === 1 ? valueOf(text, colon, le) : undefined;
          }
          break;
        case 12:
          if (head.contentType === undefined && nameIs(text, p, 'content-type')) head.contentType = valueOf(text, colon, le);
          break;
        case 16:
          if (head.contentEncoding === undefined && nameIs(text, p, 'content-encoding')) head.contentEncoding = valueOf(text, colon, le).toLowerCase();
          break;
        case 14:
          if (head.contentLength !== -2 && nameIs(text, p, 'content-length'))
            head.contentLength = parseContentLength(valueOf(text, colon, le), head.contentLength);
          break;
        case 17:
          if (nameIs(text, p, 'transfer-encoding')) {
            const v = valueOf(text, colon, le).toLowerCase();
            head.transferEncoding = true;
            const lastComma = v.lastIndexOf(',');
            head.chunked = (lastComma < 0 ? v : v.slice(lastComma + 1)).trim() === 'chunked';
          }
          break;
      }
      if (capturing) {
        const name = text.slice(p, colon).toLowerCase();
        if (capture.has(name)) (head.captured ??= []).push([name, valueOf(text, colon, le)]);
      }
    }
    p = e + 1;
  }
  return head;
}

/** Chunk-size line (without line ending): hex size, optional BWS, optional extensions. -1 if invalid. */
export function parseChunkSize(line: string): number {
  let end = line.indexOf(';');
  if (end < 0) end = line.length;
  let e = end;
  while (e > 0 && (line.charCodeAt(e - 1) === 0x20 || line.charCodeAt(e - 1) === 0x09)) e--;
  if (e === 0 || e > 13) return -1; // 13 hex digits stay below 2^53
  let n = 0;
  for (let i = 0; i < e; i++) {
    const c = line.charCodeAt(i);
    let d: number;
    if (c >= 48 && c <= 57) d = c - 48;
    else if (c >= 97 && c <= 102) d = c - 87;
    else if (c >= 65 && c <= 70) d = c - 55;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}
