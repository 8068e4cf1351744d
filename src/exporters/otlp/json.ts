// OTLP/JSON encoding of an ExportTraceServiceRequest, as the OpenTelemetry Collector's file
// exporter writes it (protobuf JSON mapping with OTLP's exceptions): trace and span IDs as
// hex strings, 64-bit integers (timestamps, intValue) as decimal strings, enums and flags as
// integers, lowerCamelCase field names, fields in the order the Collector writes them.
//
// Written straight into strings: building the protobuf-JSON object tree (one {key, value:
// {stringValue}} object per attribute) only to hand it to JSON.stringify cost more CPU than the
// rest of the pipeline and most of its garbage. The output is byte for byte what
// JSON.stringify of that tree gave (test/unit/otlp-json.test.ts compares the two).

import { SCOPE, type AttributeValue, type Attributes, type SpanEvent, type SpanRecord } from '../../core/types';
import { groupByResource } from './group';
import { isInt64, spanFlags } from './span-context';

/** Characters JSON.stringify escapes: controls, quote, backslash, and (lone) surrogates. */
// eslint-disable-next-line no-control-regex -- the controls are what it looks for
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** A JSON string literal; JSON.stringify only when something must be escaped (rare). */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** A double as JSON.stringify writes it (non-finite numbers become null). */
const jsonDouble = (x: number): string => (Number.isFinite(x) ? String(x) : 'null');

export function anyValueJson(v: AttributeValue): string {
  return typeof v === 'string' ? stringValueJson(v, '}') : otherValueJson(v);
}

// Each piece of a span's text is a string of its own until the whole is flattened to be written:
// the fewer pieces, the less garbage and the cheaper the flattening. So a string value is one
// template with its closing braces, not quotes around it, then braces around that.

/** `{"stringValue":"<v>"}` followed by `close`. */
function stringValueJson(v: string, close: '}' | '}}'): string {
  if (NEEDS_ESCAPE.test(v)) return `{"stringValue":${JSON.stringify(v)}${close}`;
  return close === '}' ? `{"stringValue":"${v}"}` : `{"stringValue":"${v}"}}`;
}

function otherValueJson(v: Exclude<AttributeValue, string>): string {
  if (typeof v === 'boolean') return v ? '{"boolValue":true}' : '{"boolValue":false}';
  // int64 as an exact decimal (String(2 ** 62) would round it); numbers outside int64 are doubles.
  if (typeof v === 'number') return isInt64(v) ? `{"intValue":"${Number.isSafeInteger(v) ? v : BigInt(v)}"}` : `{"doubleValue":${jsonDouble(v)}}`;
  let values = '';
  for (const item of v as AttributeValue[]) values += (values === '' ? '' : ',') + anyValueJson(item);
  return `{"arrayValue":{"values":[${values}]}}`;
}

// Attribute keys are a small set of names (conventions, captured headers): their escaped form
// is kept. So are whole KeyValues of the keys whose values repeat (method, status, scheme,
// addresses, protocol version, user agent, ...): one piece per attribute instead of three. A key
// seen with more than VALUES_PER_KEY values is not one of them, and its values are forgotten.
// Everything bounded, in case some processor makes keys from data.
interface KeyJson {
  /** `{"key":"<key>","value":`, and the same after a comma. */
  first: string;
  next: string;
  /** Value → `,{"key":"<key>","value":<value>}`; null once the key proved to have too many. */
  values: Map<string | number, string> | null;
}
const KEYS = new Map<string, KeyJson>();
const KEYS_MAX = 4096;
const VALUES_PER_KEY = 64;
/** Longer strings are not kept (bodies, URLs). */
const VALUE_CHARS_MAX = 128;
const VALUES_MAX = 4096;
let valuesKept = 0;

function keyJson(key: string): KeyJson {
  let k = KEYS.get(key);
  if (k === undefined) {
    const first = `{"key":${jsonString(key)},"value":`;
    const kept = KEYS.size < KEYS_MAX;
    k = { first, next: `,${first}`, values: kept ? new Map() : null };
    if (kept) KEYS.set(key, k);
  }
  return k;
}

/** `,{"key":"<key>","value":<v>}`, kept when it may repeat. */
function keyValueJson(k: KeyJson, v: string | number): string {
  const values = k.values!;
  let kv = values.get(v);
  if (kv === undefined) {
    kv = k.next + (typeof v === 'string' ? stringValueJson(v, '}}') : otherValueJson(v) + '}');
    if (values.size >= VALUES_PER_KEY) {
      valuesKept -= values.size;
      k.values = null;
    } else if (valuesKept < VALUES_MAX) {
      values.set(v, kv);
      valuesKept++;
    }
  }
  return kv;
}

/** A JSON array of KeyValue. */
export function attributesJson(attrs: Attributes): string {
  let out = '[';
  let first = true;
  for (const key of Object.keys(attrs)) {
    const k = keyJson(key);
    const v = attrs[key]!;
    if (k.values !== null && (typeof v === 'number' || (typeof v === 'string' && v.length <= VALUE_CHARS_MAX))) {
      const kv = keyValueJson(k, v);
      out += first ? kv.slice(1) : kv;
    } else out += (first ? k.first : k.next) + (typeof v === 'string' ? stringValueJson(v, '}}') : otherValueJson(v) + '}');
    first = false;
  }
  return out + ']';
}

function eventJson(e: SpanEvent): string {
  return `{"timeUnixNano":"${e.timeUnixNano}","name":${jsonString(e.name)},"attributes":${attributesJson(e.attributes)}}`;
}

function spanJson(s: SpanRecord): string {
  let out = `{"traceId":${jsonString(s.traceId)},"spanId":${jsonString(s.spanId)}`;
  if (s.traceState) out += `,"traceState":${jsonString(s.traceState)}`;
  if (s.parentSpanId) out += `,"parentSpanId":${jsonString(s.parentSpanId)}`;
  out += `,"flags":${spanFlags(s)},"name":${jsonString(s.name)},"kind":${s.kind},"startTimeUnixNano":"${s.startTimeUnixNano}","endTimeUnixNano":"${s.endTimeUnixNano}","attributes":${attributesJson(s.attributes)},"events":[`;
  for (let i = 0; i < s.events.length; i++) out += (i === 0 ? '' : ',') + eventJson(s.events[i]!);
  out += `],"status":{"code":${s.status.code}`;
  if (s.status.message) out += `,"message":${jsonString(s.status.message)}`;
  return out + '}}';
}

const SCOPE_JSON = JSON.stringify({ name: SCOPE.name, version: SCOPE.version });

/** Where encoded text goes, piece by piece (a string, or UTF-8 chunks waiting for the disk). */
export interface TextSink {
  append(text: string): void;
}

/**
 * One ExportTraceServiceRequest for `spans`, as one line of JSON text (no line ending), handed
 * to `sink` one span at a time: each span's pieces are short-lived strings.
 */
export function writeTraceRequestJson(spans: readonly SpanRecord[], sink: TextSink): void {
  sink.append('{"resourceSpans":[');
  let first = true;
  for (const g of groupByResource(spans)) {
    sink.append(`${first ? '' : ','}{"resource":{"attributes":${attributesJson(g.resource.attributes)}},"scopeSpans":[{"scope":${SCOPE_JSON},"spans":[`);
    first = false;
    for (let i = 0; i < g.spans.length; i++) sink.append(i === 0 ? spanJson(g.spans[i]!) : ',' + spanJson(g.spans[i]!));
    sink.append(']}]}');
  }
  sink.append(']}');
}

/** The same, as one string. */
export function traceRequestJson(spans: readonly SpanRecord[]): string {
  let out = '';
  writeTraceRequestJson(spans, { append: (text) => void (out += text) });
  return out;
}
