// HPACK (RFC 7541) decoding for one direction of one HTTP/2 connection. The decoder lives as long
// as the connection: the dynamic table carries over from one header block to the next.
//
// Attached mid-connection (or after bytes were lost): the decoder starts in an "unknown prefix"
// state. The encoder's table may hold entries we never saw; entries inserted from now on are
// learned and occupy the newest indices (62, 63, ...). An index beyond what was learned refers to
// an entry inserted before the collector attached (or in a gap): it is reported as unknown, never
// guessed or shifted. Keeping more entries than the encoder (when the table's max size is unknown)
// is harmless: the encoder never references an entry it evicted, and the newest entries coincide.
// The prefix is known to be gone when a size update to 0 empties the table, or when the learned
// entries alone (a lower bound of the table size) leave no room for another entry (32 bytes).
//
// Bounds: strings cannot exceed the header block (itself capped by the caller); Huffman output is
// at most 8/5 of its input; the dynamic table is capped by its max size, itself capped by the
// acknowledged SETTINGS_HEADER_TABLE_SIZE and HARD_MAX_TABLE_SIZE; the returned header list is
// capped (fields beyond are decoded for their table effects, then counted and dropped).

import { huffmanDecode } from './huffman';

/** Largest dynamic table this decoder keeps, whatever the peer announces. */
export const HARD_MAX_TABLE_SIZE = 64 * 1024;
export const DEFAULT_TABLE_SIZE = 4096;
/** Entry overhead (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;

// prettier-ignore
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''],
  ['cache-control', ''], ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''],
  ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
  ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''],
  ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC_TABLE.length; // 61

export interface HeaderField {
  name: string;
  value: string;
  /** Sent as a never-indexed literal: a secret for redaction; its value must not be exported. */
  sensitive: boolean;
  /** Name and/or value refer to a dynamic-table entry the decoder never saw (see unknownMarker). */
  unknown: boolean;
  /**
   * With `unknown`: the marker to report. When only the name is unknown, `value` is the real value
   * (a secret, perhaps): it must not be reported in place of the marker.
   */
  marker?: string;
}

export interface HpackOk {
  ok: true;
  fields: HeaderField[];
  /** Fields that referred to entries the decoder does not know. */
  unknown: number;
  /** Fields decoded but not returned because the list exceeded maxListBytes / maxFields. */
  dropped: number;
}
export interface HpackError {
  ok: false;
  error: string;
}
export type HpackResult = HpackOk | HpackError;

export interface HpackOptions {
  /** Acknowledged SETTINGS_HEADER_TABLE_SIZE (default 4096). */
  limit?: number;
  /** Cap on the returned list: sum of name + value + 32 per field (default 64 KiB). */
  maxListBytes?: number;
  /** Cap on the number of returned fields (default 256). */
  maxFields?: number;
  /** Start in the unknown-prefix state (attached mid-connection). */
  unknownPrefix?: boolean;
}

/**
 * Why an entry is unknown: inserted before the collector attached, inserted in bytes lost to a
 * capture gap (or a block that could not be decoded), or evicted early because the peer's table
 * is larger than HARD_MAX_TABLE_SIZE.
 */
export type UnknownCause = 'attach' | 'gap' | 'cap';

const CAUSE_TEXT: Record<UnknownCause, string> = {
  attach: 'before attach',
  gap: 'lost in a capture gap',
  cap: "beyond the collector's table cap",
};

/** The value reported for a field that refers to a dynamic-table entry the decoder never saw (index as on the wire). */
export function unknownMarker(index: number, cause: UnknownCause): string {
  return `<unknown: dynamic table entry ${index} ${CAUSE_TEXT[cause]}>`;
}

class DecodeError extends Error {}

export class HpackDecoder {
  // Dynamic table, newest first when read through at(): a ring of parallel arrays.
  private names: string[] = [];
  private values: string[] = [];
  private sizes: number[] = [];
  private nameKnown: boolean[] = [];
  private head = 0; // ring index of the newest entry
  private count = 0;
  private cap = 0; // ring capacity
  /** Sum of the sizes of the entries held (a lower bound when some names are unknown). */
  size = 0;
  /** Current max table size (the last size update, or the initial setting), possibly over HARD_MAX_TABLE_SIZE. */
  maxSize: number;
  /** Whether maxSize is the encoder's actual current max. */
  maxSizeKnown: boolean;
  /** Upper bound for size updates: the acknowledged SETTINGS_HEADER_TABLE_SIZE. */
  limit: number;
  /** The limit was seen acknowledged (or is the protocol default at a connection's start). */
  limitKnown: boolean;
  /** Size updates over the limit that were accepted because the limit was not known. */
  overLimit = 0;
  /** Entries older than those learned may exist in the encoder's table. */
  unknownPrefix: boolean;
  cause: UnknownCause = 'attach';
  readonly maxListBytes: number;
  readonly maxFields: number;

  constructor(opts: HpackOptions = {}) {
    this.unknownPrefix = opts.unknownPrefix ?? false;
    this.limit = opts.limit ?? DEFAULT_TABLE_SIZE;
    this.limitKnown = !this.unknownPrefix || opts.limit !== undefined;
    this.maxSize = this.limit;
    this.maxSizeKnown = !this.unknownPrefix;
    this.maxListBytes = opts.maxListBytes ?? 64 * 1024;
    this.maxFields = opts.maxFields ?? 256;
  }

  /** Number of dynamic entries held. */
  get entries(): number {
    return this.count;
  }

  /** The peer acknowledged a SETTINGS_HEADER_TABLE_SIZE of n: the bound for size updates. */
  setLimit(n: number): void {
    this.limit = n;
    this.limitKnown = true;
  }

  /** An acknowledgement whose SETTINGS was not seen: the bound is no longer known. */
  forgetLimit(): void {
    this.limitKnown = false;
  }

  /** Max size used for eviction: the encoder's when known, else an upper bound (keeping more is safe). */
  private get evictAt(): number {
    if (this.maxSizeKnown) return Math.min(this.maxSize, HARD_MAX_TABLE_SIZE);
    return this.limitKnown ? Math.min(Math.max(this.limit, this.maxSize), HARD_MAX_TABLE_SIZE) : HARD_MAX_TABLE_SIZE;
  }

  /** Bytes were lost (or the context is corrupt): forget everything learned. */
  resetUnknown(cause: UnknownCause = 'gap'): void {
    this.clearEntries();
    this.unknownPrefix = true;
    this.maxSizeKnown = false;
    this.cause = cause;
  }

  /** Decodes one complete header block. On error the decoder resets itself to the unknown state. */
  decode(block: Buffer, from = 0, to = block.length): HpackResult {
    try {
      return this.decodeBlock(block, from, to);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.resetUnknown('gap');
      return { ok: false, error: e.message };
    }
  }

  // ---- internals ----

  private decodeBlock(buf: Buffer, from: number, to: number): HpackOk {
    const fields: HeaderField[] = [];
    let listBytes = 0;
    let unknown = 0;
    let dropped = 0;
    let p = from;
    let sawField = false;
    const push = (f: HeaderField): void => {
      if (f.unknown) unknown++;
      const sz = f.name.length + f.value.length + ENTRY_OVERHEAD;
      if (fields.length >= this.maxFields || listBytes + sz > this.maxListBytes) {
        dropped++;
        return;
      }
      listBytes += sz;
      fields.push(f);
    };
    while (p < to) {
      const b = buf[p]!;
      if (b & 0x80) {
        // Indexed header field.
        const [index, np] = readInt(buf, p, to, 7);
        p = np;
        if (index === 0) throw new DecodeError('indexed field with index 0');
        sawField = true;
        push(this.lookup(index, true));
      } else if (b & 0x40) {
        // Literal with incremental indexing.
        const [index, np] = readInt(buf, p, to, 6);
        p = np;
        sawField = true;
        const f = this.literal(buf, index, p, to, false);
        p = f.end;
        this.insert(f.field.name, f.field.value, !f.field.unknown);
        push(f.field);
      } else if (b & 0x20) {
        // Dynamic table size update.
        if (sawField) throw new DecodeError('table size update after a header field');
        const [n, np] = readInt(buf, p, to, 5);
        p = np;
        if (n > this.limit) {
          if (this.limitKnown) throw new DecodeError(`table size update ${n} over the acknowledged ${this.limit}`);
          this.overLimit++;
        }
        this.resize(n);
      } else {
        // Literal without indexing (0000) or never indexed (0001).
        const sensitive = (b & 0x10) !== 0;
        const [index, np] = readInt(buf, p, to, 4);
        p = np;
        sawField = true;
        const f = this.literal(buf, index, p, to, sensitive);
        p = f.end;
        push(f.field);
      }
    }
    return { ok: true, fields, unknown, dropped };
  }

  private literal(buf: Buffer, index: number, p: number, to: number, sensitive: boolean): { field: HeaderField; end: number } {
    let name: string;
    let unknown = false;
    let marker: string | undefined;
    if (index === 0) {
      const [s, np] = readString(buf, p, to);
      name = s;
      p = np;
    } else {
      const f = this.lookup(index, false);
      name = f.name;
      unknown = f.unknown;
      marker = f.marker;
    }
    const [value, end] = readString(buf, p, to);
    return { field: unknown ? { name, value, sensitive, unknown, marker } : { name, value, sensitive, unknown }, end };
  }

  /** Entry at HPACK index (1-based, static then dynamic). */
  private lookup(index: number, withValue: boolean): HeaderField {
    if (index <= STATIC_COUNT) {
      const e = STATIC_TABLE[index - 1]!;
      return { name: e[0], value: withValue ? e[1] : '', sensitive: false, unknown: false };
    }
    const d = index - STATIC_COUNT - 1; // 0 = newest
    if (d < this.count) {
      const r = (this.head - d + this.cap) % this.cap;
      const known = this.nameKnown[r]!;
      const f: HeaderField = { name: known ? this.names[r]! : '', value: withValue ? this.values[r]! : '', sensitive: false, unknown: !known };
      // A learned entry whose name came from an unknown one: the wire index names it in the marker.
      if (!known) f.marker = unknownMarker(index, this.cause);
      return f;
    }
    const capped = this.maxSize > HARD_MAX_TABLE_SIZE;
    if (!this.unknownPrefix && !capped) throw new DecodeError(`index ${index} beyond the dynamic table (${this.count} entries)`);
    if (d >= Math.max(this.maxSize, HARD_MAX_TABLE_SIZE) / ENTRY_OVERHEAD) throw new DecodeError(`index ${index} beyond any table`);
    const cause = this.unknownPrefix ? this.cause : 'cap';
    const marker = unknownMarker(index, cause);
    return { name: '', value: marker, sensitive: false, unknown: true, marker };
  }

  private insert(name: string, value: string, nameKnown: boolean): void {
    const size = (nameKnown ? name.length : 0) + value.length + ENTRY_OVERHEAD;
    const max = this.evictAt;
    if (size > max) {
      // An entry larger than the table empties it (RFC 7541 §4.4).
      this.clearEntries();
      if (this.maxSizeKnown && size > this.maxSize) this.unknownPrefix = false;
      return;
    }
    while (this.size + size > max) this.evictOldest();
    if (this.count === this.cap) this.grow();
    this.head = (this.head + 1) % this.cap;
    this.names[this.head] = name;
    this.values[this.head] = value;
    this.sizes[this.head] = size;
    this.nameKnown[this.head] = nameKnown;
    this.count++;
    this.size += size;
    this.checkPrefix();
  }

  private resize(n: number): void {
    this.maxSize = n;
    this.maxSizeKnown = true;
    const max = this.evictAt;
    while (this.size > max) this.evictOldest();
    if (n === 0) this.unknownPrefix = false;
    this.checkPrefix();
  }

  /** With the max size known, learned entries that leave no room for another prove there is no older one. */
  private checkPrefix(): void {
    if (this.unknownPrefix && this.maxSizeKnown && this.size + ENTRY_OVERHEAD > this.maxSize) this.unknownPrefix = false;
  }

  private evictOldest(): void {
    if (this.count === 0) return;
    const r = (this.head - (this.count - 1) + this.cap) % this.cap;
    this.size -= this.sizes[r]!;
    this.names[r] = '';
    this.values[r] = '';
    this.count--;
  }

  private clearEntries(): void {
    this.names = [];
    this.values = [];
    this.sizes = [];
    this.nameKnown = [];
    this.head = 0;
    this.count = 0;
    this.cap = 0;
    this.size = 0;
  }

  private grow(): void {
    const ncap = Math.max(16, this.cap * 2);
    const names: string[] = new Array<string>(ncap);
    const values: string[] = new Array<string>(ncap);
    const sizes: number[] = new Array<number>(ncap);
    const known: boolean[] = new Array<boolean>(ncap);
    // Oldest first at 0.., newest at count-1.
    for (let i = 0; i < this.count; i++) {
      const r = (this.head - (this.count - 1 - i) + this.cap) % this.cap;
      names[i] = this.names[r]!;
      values[i] = this.values[r]!;
      sizes[i] = this.sizes[r]!;
      known[i] = this.nameKnown[r]!;
    }
    this.names = names;
    this.values = values;
    this.sizes = sizes;
    this.nameKnown = known;
    this.cap = ncap;
    this.head = this.count === 0 ? ncap - 1 : this.count - 1;
  }
}

/** HPACK integer with an n-bit prefix at buf[p]. Values above 2^31 are errors. */
function readInt(buf: Buffer, p: number, to: number, n: number): [number, number] {
  const mask = (1 << n) - 1;
  let v = buf[p]! & mask;
  p++;
  if (v < mask) return [v, p];
  let m = 0;
  for (;;) {
    if (p >= to) throw new DecodeError('integer runs past the block');
    const b = buf[p++]!;
    v += (b & 0x7f) * 2 ** m;
    m += 7;
    if (v > 0x7fffffff) throw new DecodeError('integer too large');
    if ((b & 0x80) === 0) return [v, p];
    if (m > 28) throw new DecodeError('integer too long');
  }
}

/** HPACK string literal at buf[p]: [latin1 text, next position]. */
function readString(buf: Buffer, p: number, to: number): [string, number] {
  if (p >= to) throw new DecodeError('string runs past the block');
  const huff = (buf[p]! & 0x80) !== 0;
  const [len, np] = readInt(buf, p, to, 7);
  if (len > to - np) throw new DecodeError('string runs past the block');
  const end = np + len;
  if (!huff) return [buf.toString('latin1', np, end), end];
  const s = huffmanDecode(buf, np, end);
  if (s === null) throw new DecodeError('invalid Huffman string');
  return [s, end];
}

// ---- encoding (tests, fixtures) ----

export function encodeInt(out: number[], v: number, n: number, first: number): void {
  const mask = (1 << n) - 1;
  if (v < mask) {
    out.push(first | v);
    return;
  }
  out.push(first | mask);
  v -= mask;
  while (v >= 128) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}
