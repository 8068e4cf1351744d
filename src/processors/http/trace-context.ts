// W3C Trace Context (https://www.w3.org/TR/trace-context/) parsing, and span/trace id generation.

import { randomFillSync } from 'node:crypto';

export interface TraceParent {
  traceId: string;
  parentId: string;
  flags: number;
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/**
 * Strict parse of a version-00 traceparent: exactly "00-<32 hex>-<16 hex>-<2 hex>", lowercase,
 * neither id all zeros. Anything else (other versions included) is rejected.
 */
export function parseTraceparent(value: string | undefined): TraceParent | null {
  if (value === undefined || value.length !== 55) return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  if (value[0] !== '0' || value[1] !== '0') return null;
  if (!isLowerHex(value, 3, 35) || !isLowerHex(value, 36, 52) || !isLowerHex(value, 53, 55)) return null;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  if (traceId === ZERO_TRACE || parentId === ZERO_SPAN) return null;
  return { traceId, parentId, flags: parseInt(value.slice(53, 55), 16) };
}

// list-member = key "=" value; key = simple-key / multi-tenant-key; value = 0*255(chr) nblk-chr
const TS_KEY = /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
const TS_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Validates a tracestate (combined header values). Returns it normalised (empty members and
 * OWS removed) or undefined when invalid or empty; per the spec an invalid tracestate is
 * dropped while the traceparent is kept.
 */
export function parseTracestate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const members: string[] = [];
  const keys = new Set<string>();
  for (const raw of value.split(',')) {
    const m = raw.trim();
    if (m === '') continue;
    const eq = m.indexOf('=');
    if (eq <= 0) return undefined;
    const key = m.slice(0, eq);
    if (!TS_KEY.test(key) || !TS_VALUE.test(m.slice(eq + 1)) || keys.has(key)) return undefined;
    keys.add(key);
    members.push(m);
  }
  if (members.length === 0 || members.length > 32) return undefined;
  return members.join(',');
}

/** Random ids from a pooled buffer refilled by crypto.randomFillSync (one syscall per 256 ids). */
export class IdGenerator {
  private readonly pool = Buffer.allocUnsafe(4096);
  private pos = this.pool.length;

  private hex(bytes: number): string {
    if (this.pos + bytes > this.pool.length) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    const s = this.pool.toString('hex', this.pos, this.pos + bytes);
    this.pos += bytes;
    return s;
  }

  traceId(): string {
    for (;;) {
      const id = this.hex(16);
      if (id !== ZERO_TRACE) return id;
    }
  }

  spanId(): string {
    for (;;) {
      const id = this.hex(8);
      if (id !== ZERO_SPAN) return id;
    }
  }
}
