// Protobuf encoding of opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest,
// written out by hand (field numbers from opentelemetry-proto's trace.proto, common.proto,
// resource.proto and trace_service.proto) straight from SpanRecords, without building the SDK's
// span objects first. Its bytes are those of @opentelemetry/otlp-transformer's
// ProtobufTraceSerializer for the same spans (test/unit/otlp-protobuf.test.ts compares them),
// zero counts and status code included.

import { SCOPE, type AttributeValue, type Attributes, type SpanEvent, type SpanRecord } from '../../core/types';
import { groupByResource } from './group';
import { isInt64, spanFlags } from './span-context';

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LEN = 2;
const FIXED32 = 5;

/**
 * Accumulates one message's fields in one growing Buffer; nested messages are encoded first
 * and copied in (their length comes first on the wire). Varints are written from numbers:
 * BigInt only for fixed64 and negative int64.
 */
class MessageWriter {
  private buf = Buffer.allocUnsafe(64);
  private len = 0;

  private room(n: number) {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  private tag(field: number, wire: number) {
    this.varint((field << 3) | wire);
  }

  private varint(n: number | bigint) {
    this.room(10);
    if (typeof n === 'bigint' || n < 0 || n > Number.MAX_SAFE_INTEGER) {
      // Negative int64: ten bytes of two's complement.
      let v = BigInt.asUintN(64, BigInt(n));
      while (v >= 0x80n) {
        this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
        v >>= 7n;
      }
      this.buf[this.len++] = Number(v);
      return;
    }
    while (n >= 0x80) {
      this.buf[this.len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.len++] = n;
  }

  uint(field: number, n: number | bigint) {
    if (n === 0 || n === 0n) return this; // proto3: default values are not written
    this.tag(field, VARINT);
    this.varint(n);
    return this;
  }

  /** Written even when zero: a oneof member (AnyValue.int_value) must be present to be set. */
  int64Always(field: number, n: number | bigint) {
    this.tag(field, VARINT);
    this.varint(n);
    return this;
  }

  fixed32(field: number, n: number) {
    if (n === 0) return this;
    this.tag(field, FIXED32);
    this.room(4);
    this.buf.writeUInt32LE(n >>> 0, this.len);
    this.len += 4;
    return this;
  }

  boolAlways(field: number, b: boolean) {
    this.tag(field, VARINT);
    this.varint(b ? 1 : 0);
    return this;
  }

  fixed64Always(field: number, n: bigint) {
    this.tag(field, FIXED64);
    this.room(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, n), this.len);
    this.len += 8;
    return this;
  }

  doubleAlways(field: number, x: number) {
    this.tag(field, FIXED64);
    this.room(8);
    this.buf.writeDoubleLE(x, this.len);
    this.len += 8;
    return this;
  }

  bytes(field: number, b: Uint8Array, always = false, end = b.length) {
    if (end === 0 && !always) return this;
    this.tag(field, LEN);
    this.varint(end);
    this.room(end);
    this.buf.set(b.subarray(0, end), this.len);
    this.len += end;
    return this;
  }

  string(field: number, s: string | undefined, always = false, n = s === undefined ? 0 : Buffer.byteLength(s, 'utf8')) {
    if (s === undefined || (n === 0 && !always)) return this;
    this.tag(field, LEN);
    this.varint(n);
    this.room(n);
    this.len += this.buf.write(s, this.len, 'utf8');
    return this;
  }

  /**
   * KeyValue { string key = 1; AnyValue value = 2 }. Scalar values (nearly all) are written in
   * place: their sizes are known before writing, so no nested writers are made and copied.
   */
  keyValue(field: number, key: string, value: AttributeValue) {
    if (typeof value === 'object') return this.message(field, new MessageWriter().string(1, key, true).message(2, anyValue(value)));
    const keyBytes = Buffer.byteLength(key, 'utf8');
    let valueBytes = 0;
    let anyBytes: number;
    if (typeof value === 'string') {
      valueBytes = Buffer.byteLength(value, 'utf8');
      anyBytes = 1 + varintSize(valueBytes) + valueBytes;
    } else if (typeof value === 'boolean') anyBytes = 2;
    else anyBytes = isInt64(value) ? 1 + varintSize(value) : 9;
    this.tag(field, LEN);
    this.varint(1 + varintSize(keyBytes) + keyBytes + 1 + varintSize(anyBytes) + anyBytes);
    this.string(1, key, true, keyBytes);
    this.tag(2, LEN);
    this.varint(anyBytes);
    return writeAnyValue(this, value, valueBytes);
  }

  message(field: number, m: MessageWriter) {
    // Empty sub-messages are still written: presence matters (e.g. an empty Resource).
    return this.bytes(field, m.buf, true, m.len);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/** Bytes of a varint: ten for negative int64 (two's complement). */
function varintSize(n: number): number {
  if (n < 0) return 10;
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

// common.proto: AnyValue { string_value=1; bool_value=2; int_value=3; double_value=4; array_value=5 }
function anyValue(v: AttributeValue): MessageWriter {
  return writeAnyValue(new MessageWriter(), v);
}

/** AnyValue's fields into `w`; `stringBytes` is the UTF-8 length of a string value when known. */
function writeAnyValue(w: MessageWriter, v: AttributeValue, stringBytes?: number): MessageWriter {
  if (typeof v === 'string') w.string(1, v, true, stringBytes);
  else if (typeof v === 'boolean') w.boolAlways(2, v);
  else if (typeof v === 'number') {
    // Integers up to 2^63 as int64 (exactly: the varint writer takes ones past 2^53 as BigInt).
    if (isInt64(v)) w.int64Always(3, v);
    else w.doubleAlways(4, v);
  } else {
    // ArrayValue { repeated AnyValue values = 1 }
    const arr = new MessageWriter();
    for (const item of v as AttributeValue[]) arr.message(1, anyValue(item));
    w.message(5, arr);
  }
  return w;
}

function addAttributes(w: MessageWriter, field: number, attrs: Attributes) {
  for (const key of Object.keys(attrs)) w.keyValue(field, key, attrs[key]!);
}

// Span.Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3;
//   uint32 dropped_attributes_count = 4 }
function event(e: SpanEvent): MessageWriter {
  const w = new MessageWriter().fixed64Always(1, e.timeUnixNano).string(2, e.name, true);
  addAttributes(w, 3, e.attributes);
  return w.int64Always(4, 0);
}

// Span { bytes trace_id=1; bytes span_id=2; string trace_state=3; bytes parent_span_id=4;
//   string name=5; SpanKind kind=6; fixed64 start_time_unix_nano=7; fixed64 end_time_unix_nano=8;
//   repeated KeyValue attributes=9; uint32 dropped_attributes_count=10; repeated Event events=11;
//   uint32 dropped_events_count=12; (links=13 none) uint32 dropped_links_count=14; Status status=15;
//   fixed32 flags=16 }
function span(s: SpanRecord): MessageWriter {
  const w = new MessageWriter()
    .bytes(1, Buffer.from(s.traceId, 'hex'))
    .bytes(2, Buffer.from(s.spanId, 'hex'))
    .string(3, s.traceState || undefined)
    .bytes(4, s.parentSpanId ? Buffer.from(s.parentSpanId, 'hex') : Buffer.alloc(0))
    .string(5, s.name, true)
    .uint(6, s.kind)
    .fixed64Always(7, s.startTimeUnixNano)
    .fixed64Always(8, s.endTimeUnixNano);
  addAttributes(w, 9, s.attributes);
  w.int64Always(10, 0);
  for (const e of s.events) w.message(11, event(e));
  w.int64Always(12, 0).int64Always(14, 0);
  // Status { string message = 2; StatusCode code = 3 }
  w.message(15, new MessageWriter().string(2, s.status.message || undefined).int64Always(3, s.status.code));
  return w.fixed32(16, spanFlags(s));
}

/** ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1 } */
export function encodeTraceRequest(spans: readonly SpanRecord[]): Buffer {
  const req = new MessageWriter();
  for (const group of groupByResource(spans)) {
    // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2 }
    // Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2 }
    const resource = new MessageWriter();
    addAttributes(resource, 1, group.resource.attributes);
    resource.int64Always(2, 0);
    // ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2 }
    const scopeSpans = new MessageWriter().message(1, new MessageWriter().string(1, SCOPE.name, true).string(2, SCOPE.version));
    for (const s of group.spans) scopeSpans.message(2, span(s));
    req.message(1, new MessageWriter().message(1, resource).message(2, scopeSpans));
  }
  return req.finish();
}

/**
 * ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1 }, with
 * ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2 }.
 * A small reader: the response is the only message this exporter decodes.
 */
export function decodeTraceResponse(buf: Buffer): { rejectedSpans: number; errorMessage: string } {
  const out = { rejectedSpans: 0, errorMessage: '' };
  const r = new Reader(buf);
  while (!r.done()) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === LEN) {
      const inner = new Reader(r.lengthDelimited());
      while (!inner.done()) {
        const [f, w] = inner.tag();
        if (f === 1 && w === VARINT) out.rejectedSpans = Number(BigInt.asIntN(64, inner.varint()));
        else if (f === 2 && w === LEN) out.errorMessage = inner.lengthDelimited().toString('utf8');
        else inner.skip(w);
      }
    } else r.skip(wire);
  }
  return out;
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * The server's requested wait, from a gRPC error's `grpc-status-details-bin` (a google.rpc.Status
 * whose details may hold a google.rpc.RetryInfo{retry_delay: Duration}), in milliseconds;
 * undefined when there is no RetryInfo. Never throws.
 */
export function decodeRetryDelay(statusDetails: Buffer): number | undefined {
  try {
    const r = new Reader(statusDetails);
    while (!r.done()) {
      const [field, wire] = r.tag();
      if (field !== 3 || wire !== LEN) {
        r.skip(wire);
        continue;
      }
      const any = new Reader(r.lengthDelimited());
      let typeUrl = '';
      let value: Buffer | undefined;
      while (!any.done()) {
        const [f, w] = any.tag();
        if (f === 1 && w === LEN) typeUrl = any.lengthDelimited().toString('utf8');
        else if (f === 2 && w === LEN) value = any.lengthDelimited();
        else any.skip(w);
      }
      if (typeUrl !== RETRY_INFO_TYPE || !value) continue;
      let ms = 0;
      const info = new Reader(value);
      while (!info.done()) {
        const [f, w] = info.tag();
        if (f !== 1 || w !== LEN) {
          info.skip(w);
          continue;
        }
        const d = new Reader(info.lengthDelimited());
        while (!d.done()) {
          const [df, dw] = d.tag();
          if (df === 1 && dw === VARINT) ms += Number(BigInt.asIntN(64, d.varint())) * 1000;
          else if (df === 2 && dw === VARINT) ms += Number(BigInt.asIntN(32, d.varint())) / 1e6;
          else d.skip(dw);
        }
      }
      return Math.max(0, Math.round(ms));
    }
  } catch {
    // unreadable details: as if there were none
  }
  return undefined;
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  done() {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  }
  tag(): [number, number] {
    const t = Number(this.varint());
    return [t >>> 3, t & 7];
  }
  lengthDelimited(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw new Error('truncated field');
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  skip(wire: number) {
    if (wire === VARINT) this.varint();
    else if (wire === FIXED64) this.pos += 8;
    else if (wire === LEN) this.lengthDelimited();
    else if (wire === FIXED32) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}
