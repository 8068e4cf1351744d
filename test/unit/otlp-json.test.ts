// The OTLP/JSON string encoder writes exactly what JSON.stringify of the protobuf-JSON object
// tree writes (the encoder's previous form, kept here as the reference).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonString, traceRequestJson } from '../../src/exporters/otlp/json';
import { groupByResource } from '../../src/exporters/otlp/group';
import { SCOPE, SpanKind, StatusCode, type AttributeValue, type Attributes, type Resource, type SpanRecord } from '../../src/core/types';
import { RESOURCE_B, makeSpan } from './helpers/fakes';

// ---- reference: the object tree, as built before the string encoder
type RefAnyValue =
  { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean } | { arrayValue: { values: RefAnyValue[] } };
function refAnyValue(v: AttributeValue): RefAnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  // int64 (exact, as BigInt prints it); anything outside int64 is a double.
  if (typeof v === 'number') return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63 ? { intValue: BigInt(v).toString() } : { doubleValue: v };
  return { arrayValue: { values: (v as AttributeValue[]).map((item) => refAnyValue(item)) } };
}
const refAttributes = (attrs: Attributes) => Object.entries(attrs).map(([key, value]) => ({ key, value: refAnyValue(value) }));
const refSpan = (s: SpanRecord) => ({
  traceId: s.traceId,
  spanId: s.spanId,
  ...(s.traceState ? { traceState: s.traceState } : {}),
  ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
  // Span.flags: trace flags (sampled unless the context said otherwise), HAS_IS_REMOTE, IS_REMOTE.
  flags: (s.traceFlags ?? 1) | 0x100 | (s.parentSpanId !== undefined && s.parentSpanId === s.remoteParentSpanId ? 0x200 : 0),
  name: s.name,
  kind: s.kind,
  startTimeUnixNano: s.startTimeUnixNano.toString(),
  endTimeUnixNano: s.endTimeUnixNano.toString(),
  attributes: refAttributes(s.attributes),
  events: s.events.map((e) => ({ timeUnixNano: e.timeUnixNano.toString(), name: e.name, attributes: refAttributes(e.attributes) })),
  status: { code: s.status.code, ...(s.status.message ? { message: s.status.message } : {}) },
});
const reference = (spans: SpanRecord[]) =>
  JSON.stringify({
    resourceSpans: groupByResource(spans).map((g) => ({
      resource: { attributes: refAttributes(g.resource.attributes) },
      scopeSpans: [{ scope: { name: SCOPE.name, version: SCOPE.version }, spans: g.spans.map(refSpan) }],
    })),
  });

const same = (spans: SpanRecord[]) => {
  const out = traceRequestJson(spans);
  assert.equal(out, reference(spans));
  JSON.parse(out); // and valid JSON
};

const TRICKY_STRINGS = [
  '',
  'plain',
  'quote " and backslash \\',
  'controls \u0000\u0001\b\f\n\r\t\u001f end',
  'DEL \u007f, line separators \u2028\u2029',
  'unicode: héllo wörld ✓ 日本語 😀',
  'lone surrogates \ud800 x \udfff, reversed pair \udc00\ud800',
  '</script><!-- -->',
];

test('strings: every character class JSON escapes, and unicode, as JSON.stringify writes them', () => {
  for (const s of TRICKY_STRINGS) assert.equal(jsonString(s), JSON.stringify(s), s);
  same([makeSpan({ name: TRICKY_STRINGS.join('|'), attributes: Object.fromEntries(TRICKY_STRINGS.map((s, i) => [`k${i}.${s}`, s])) })]);
});

test('numbers: ints, doubles, negative, zero, -0, huge, non-finite; booleans', () => {
  same([
    makeSpan({
      attributes: {
        int: 200,
        zero: 0,
        negZero: -0,
        neg: -17,
        big: 2 ** 53 + 2,
        big60: 2 ** 60,
        negBig: -(2 ** 62),
        int64Edge: 2 ** 63,
        huge: 1e21,
        double: 0.25,
        negDouble: -1.5e-7,
        tiny: 5e-324,
        nan: NaN,
        inf: Infinity,
        negInf: -Infinity,
        yes: true,
        no: false,
      },
    }),
  ]);
});

test('integers past 2^53 are exact int64 strings; 2^63 and more are doubles', () => {
  const out = traceRequestJson([makeSpan({ attributes: { a: 2 ** 60, b: -(2 ** 62), c: 2 ** 63, d: 1e21 } })]);
  assert.match(out, /"key":"a","value":\{"intValue":"1152921504606846976"\}/);
  assert.match(out, /"key":"b","value":\{"intValue":"-4611686018427387904"\}/);
  assert.match(out, /"key":"c","value":\{"doubleValue":9223372036854776000\}/);
  assert.match(out, /"key":"d","value":\{"doubleValue":1e\+21\}/);
});

test('arrays: strings, ints, doubles, mixed, empty, with escapes', () => {
  same([
    makeSpan({
      attributes: {
        'http.request.header.accept': ['a', 'b "c"'],
        nums: [1, 2.5, -3, NaN],
        empty: [],
        mixed: ['x', 1, true] as unknown as string[],
        nested: [['a'], [1]] as unknown as string[],
      },
    }),
  ]);
});

test('optional fields, empty attributes, events, status messages, several resources', () => {
  const emptyResource: Resource = { attributes: {} };
  same([
    makeSpan({ attributes: {}, resource: emptyResource }),
    makeSpan({ parentSpanId: '00f067aa0ba902b7', traceState: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', resource: RESOURCE_B }),
    makeSpan({ parentSpanId: '', traceState: '', status: { code: StatusCode.OK, message: '' } }),
    makeSpan({ parentSpanId: '00f067aa0ba902b7', remoteParentSpanId: '00f067aa0ba902b7', traceFlags: 0 }),
    makeSpan({
      kind: SpanKind.SERVER,
      events: [
        { name: 'rpc.message', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'rpc.message.type': 'SENT', 'rpc.message.id': 1 } },
        { name: 'empty "event"', timeUnixNano: 0n, attributes: {} },
      ],
      status: { code: StatusCode.ERROR, message: 'incomplete exchange: "gap"\n' },
      resource: RESOURCE_B,
    }),
  ]);
  same([]);
});

test('attribute keys cached per name still follow every span', () => {
  // The same keys with different values, then a new key: the cache must not leak values.
  same([makeSpan({ attributes: { a: 'one', b: 1 } }), makeSpan({ attributes: { b: 'two', a: 2.5, c: ['x'] } })]);
});

test('KeyValues kept for repeating values: hits, first and later places, keys past the value limit, long values', () => {
  const spans: SpanRecord[] = [];
  for (let i = 0; i < 300; i++) {
    const attrs: Attributes = {
      method: i % 2 ? 'GET' : 'POST', // repeats: kept
      port: 40000 + (i % 20), // repeats, numbers
      many: `v${i}`, // past the limit: its values are forgotten, the output stays right
      zero: i % 3 === 0 ? -0 : 0, // -0 and 0 are one Map key, and one JSON text
      esc: i % 5 === 0 ? 'quote " here' : 'plain',
      long: 'x'.repeat(200 + (i % 2)), // too long to keep
      flag: i % 2 === 0,
    };
    // Cached KeyValues in the first place (no comma) and in later ones.
    spans.push(makeSpan({ attributes: i % 2 ? attrs : Object.fromEntries(Object.entries(attrs).reverse()) }));
  }
  same(spans);
  for (const s of spans) same([s]);
});
