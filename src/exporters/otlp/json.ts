// OTLP/JSON encoding of an ExportTraceServiceRequest, as the OpenTelemetry Collector's file
// exporter writes it (protobuf JSON mapping with OTLP's exceptions): trace and span IDs as
// hex strings, 64-bit integers (timestamps, intValue) as decimal strings, enums as integers,
// lowerCamelCase field names.

import { SCOPE, type AttributeValue, type Attributes, type SpanRecord } from '../../core/types';
import { groupByResource } from './group';

export type JsonAnyValue =
  | { stringValue: string }
  | { intValue: string }
  | { doubleValue: number }
  | { boolValue: boolean }
  | { arrayValue: { values: JsonAnyValue[] } };

export interface JsonKeyValue {
  key: string;
  value: JsonAnyValue;
}

export function anyValueJson(v: AttributeValue): JsonAnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { arrayValue: { values: (v as AttributeValue[]).map((item) => anyValueJson(item)) } };
}

export function attributesJson(attrs: Attributes): JsonKeyValue[] {
  return Object.entries(attrs).map(([key, value]) => ({ key, value: anyValueJson(value) }));
}

function spanJson(s: SpanRecord) {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    ...(s.traceState ? { traceState: s.traceState } : {}),
    ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: s.startTimeUnixNano.toString(),
    endTimeUnixNano: s.endTimeUnixNano.toString(),
    attributes: attributesJson(s.attributes),
    events: s.events.map((e) => ({ timeUnixNano: e.timeUnixNano.toString(), name: e.name, attributes: attributesJson(e.attributes) })),
    status: { code: s.status.code, ...(s.status.message ? { message: s.status.message } : {}) },
  };
}

/** One ExportTraceServiceRequest object for `spans`. */
export function traceRequestJson(spans: readonly SpanRecord[]) {
  return {
    resourceSpans: groupByResource(spans).map((g) => ({
      resource: { attributes: attributesJson(g.resource.attributes) },
      scopeSpans: [{ scope: { name: SCOPE.name, version: SCOPE.version }, spans: g.spans.map(spanJson) }],
    })),
  };
}
