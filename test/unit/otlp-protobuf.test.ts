// The protobuf encoder writes exactly the bytes of @opentelemetry/otlp-transformer's
// ProtobufTraceSerializer for the same spans (seen through the SDK span contract), for spans that
// cover every value kind, optional fields, events, status, flags and two resources. (The
// Collector and Jaeger integration tests decode it too.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeTraceRequest } from '../../src/exporters/otlp/protobuf';
import { ReadableSpanViews } from '../../src/exporters/sdk/readable-span';
import { SpanKind, StatusCode, type Resource, type SpanRecord } from '../../src/core/types';

const RA: Resource = { attributes: { 'service.name': 'checkout', 'process.pid': 4242, 'host.name': 'node-1' } };
const RB: Resource = { attributes: { 'service.name': 'curl', 'process.pid': 7 } };
const base: SpanRecord = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  name: 'GET /api/items',
  kind: SpanKind.CLIENT,
  startTimeUnixNano: 1_700_000_000_123_456_789n,
  endTimeUnixNano: 1_700_000_000_135_456_789n,
  attributes: {},
  events: [],
  status: { code: StatusCode.UNSET },
  resource: RA,
};
const SPANS: SpanRecord[] = [
  {
    ...base,
    attributes: { 'http.request.method': 'GET', 'url.path': '/api/items', 'http.response.status_code': 200, 'server.port': 8080, 'x.long': 'é✓😀'.repeat(50) },
  },
  {
    ...base,
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    traceState: 'a=b',
    kind: SpanKind.SERVER,
    attributes: { neg: -5, zero: 0, big: 2 ** 53 - 1, huge: 1e21, d: 0.25, nan: NaN, t: true, f: false, empty: '', list: ['a', 'b'], nums: [1, 2.5] },
    events: [{ name: 'gap', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'tcpsniff.gap.bytes': 1200 } }],
    status: { code: StatusCode.ERROR, message: 'HTTP 503' },
    resource: RB,
  },
  { ...base, spanId: '1111111111111111', startTimeUnixNano: 0n, endTimeUnixNano: 1n },
];

const views = new ReadableSpanViews();
const official = (spans: SpanRecord[]) => Buffer.from(ProtobufTraceSerializer.serializeRequest(spans.map((sp) => views.view(sp)))!);

test("ExportTraceServiceRequest bytes are otlp-transformer's for the same spans: every value kind, optional fields, events, status, flags, resources", () => {
  const mine = encodeTraceRequest(SPANS);
  assert.equal(mine.toString('hex'), official(SPANS).toString('hex'));
  assert.equal(encodeTraceRequest([]).length, 0);
});

test('integers past 2^53 go out as exact int64, only numbers outside int64 as doubles (as otlp-transformer)', () => {
  const big = { ...base, attributes: { a: 2 ** 60, b: -(2 ** 62), c: 2 ** 63 - 2 ** 10, max: 2 ** 63, d: 1e21, e: 2 ** 53 + 2 } };
  const bytes = encodeTraceRequest([big]);
  assert.equal(bytes.toString('hex'), official([big]).toString('hex'));
  const attrs = decodeSpan(bytes).attributes;
  assert.deepEqual(attrs, {
    a: { int: 2n ** 60n },
    b: { int: -(2n ** 62n) },
    c: { int: 2n ** 63n - 2n ** 10n },
    max: { double: 2 ** 63 },
    d: { double: 1e21 },
    e: { int: 2n ** 53n + 2n },
  });
});

test("Span.flags: the W3C trace flags, and whether the parent is remote (a traceparent's) or local", () => {
  const root = { ...base };
  const fromHeader = { ...base, parentSpanId: '00f067aa0ba902b7', remoteParentSpanId: '00f067aa0ba902b7', traceFlags: 0 };
  const reparented = { ...base, parentSpanId: '1111111111111111', remoteParentSpanId: '00f067aa0ba902b7', traceFlags: 1 };
  assert.deepEqual(
    [root, fromHeader, reparented].map((sp) => decodeSpan(encodeTraceRequest([sp])).flags),
    [0x101, 0x300, 0x101],
  );
  assert.equal(encodeTraceRequest([root, fromHeader, reparented]).toString('hex'), official([root, fromHeader, reparented]).toString('hex'));
});

/** The first span's flags and attribute values, read back with a minimal protobuf reader. */
function decodeSpan(buf: Buffer): { flags: number; attributes: Record<string, { int: bigint } | { double: number }> } {
  const fields = (b: Buffer) => {
    const out: Array<{ field: number; wire: number; value: Buffer | bigint }> = [];
    let pos = 0;
    const varint = () => {
      let v = 0n;
      for (let shift = 0n; ; shift += 7n) {
        const byte = b[pos++]!;
        v |= BigInt(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return v;
      }
    };
    while (pos < b.length) {
      const tag = Number(varint());
      const wire = tag & 7;
      if (wire === 0) out.push({ field: tag >>> 3, wire, value: varint() });
      else if (wire === 2) {
        const len = Number(varint());
        out.push({ field: tag >>> 3, wire, value: b.subarray(pos, (pos += len)) });
      } else {
        const len = wire === 1 ? 8 : 4;
        out.push({ field: tag >>> 3, wire, value: b.subarray(pos, (pos += len)) });
      }
    }
    return out;
  };
  const one = (b: Buffer, f: number) => fields(b).find((x) => x.field === f)!.value as Buffer;
  const span = one(one(one(buf, 1), 2), 2); // resource_spans → scope_spans → spans
  const attributes: Record<string, { int: bigint } | { double: number }> = {};
  for (const kv of fields(span).filter((x) => x.field === 9)) {
    const key = one(kv.value as Buffer, 1).toString();
    const any = fields(one(kv.value as Buffer, 2))[0]!;
    attributes[key] = any.field === 3 ? { int: BigInt.asIntN(64, any.value as bigint) } : { double: (any.value as Buffer).readDoubleLE(0) };
  }
  return { flags: one(span, 16).readUInt32LE(0), attributes };
}
