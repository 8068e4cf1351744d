// SpanRecords seen through the OpenTelemetry SDK's span contract (ReadableSpan of
// @opentelemetry/sdk-trace), so that any SpanExporter package can export them. The views are
// made at export time; the pipeline keeps its own lighter records.

import { SpanKind as ApiSpanKind, createTraceState, type HrTime, type SpanContext } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource as SdkResource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { SCOPE, SpanKind, type Resource, type SpanRecord } from '../../core/types';
import { parentIsRemote, traceFlagsOf } from '../otlp/span-context';

/** The model's kinds are OTLP's enum values; the API numbers them from INTERNAL = 0. */
const API_KIND: Record<number, ApiSpanKind> = {
  [SpanKind.INTERNAL]: ApiSpanKind.INTERNAL,
  [SpanKind.SERVER]: ApiSpanKind.SERVER,
  [SpanKind.CLIENT]: ApiSpanKind.CLIENT,
  [SpanKind.PRODUCER]: ApiSpanKind.PRODUCER,
  [SpanKind.CONSUMER]: ApiSpanKind.CONSUMER,
};

const NS_PER_S = 1_000_000_000n;
const hrTime = (ns: bigint): HrTime => [Number(ns / NS_PER_S), Number(ns % NS_PER_S)];

/** One instrumentation scope object: exporters group spans by its identity. */
const INSTRUMENTATION_SCOPE = { name: SCOPE.name, version: SCOPE.version };

/**
 * Makes ReadableSpans. Spans of one process share one Resource object in the pipeline; their
 * views share one SDK Resource too (exporters group by identity), kept while the pipeline's lives.
 */
export class ReadableSpanViews {
  private readonly resources = new WeakMap<Resource, SdkResource>();

  private resource(r: Resource): SdkResource {
    let out = this.resources.get(r);
    if (out === undefined) this.resources.set(r, (out = resourceFromAttributes(r.attributes)));
    return out;
  }

  view(s: SpanRecord): ReadableSpan {
    const traceFlags = traceFlagsOf(s);
    const context: SpanContext = { traceId: s.traceId, spanId: s.spanId, traceFlags, isRemote: false };
    if (s.traceState) context.traceState = createTraceState(s.traceState);
    const parent: SpanContext | undefined = s.parentSpanId
      ? { traceId: s.traceId, spanId: s.parentSpanId, traceFlags, isRemote: parentIsRemote(s) }
      : undefined;
    return {
      name: s.name,
      kind: API_KIND[s.kind] ?? ApiSpanKind.INTERNAL,
      spanContext: () => context,
      parentSpanContext: parent,
      startTime: hrTime(s.startTimeUnixNano),
      endTime: hrTime(s.endTimeUnixNano),
      duration: hrTime(s.endTimeUnixNano - s.startTimeUnixNano),
      status: s.status.message ? { code: s.status.code, message: s.status.message } : { code: s.status.code },
      attributes: s.attributes,
      links: [],
      events: s.events.map((e) => ({ name: e.name, time: hrTime(e.timeUnixNano), attributes: e.attributes, droppedAttributesCount: 0 })),
      ended: true,
      resource: this.resource(s.resource),
      instrumentationScope: INSTRUMENTATION_SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}
