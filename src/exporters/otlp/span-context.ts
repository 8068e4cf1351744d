// What OTLP derives from a span's trace context, shared by the encoders and the SDK span view.

import { TraceFlags } from '@opentelemetry/api';
import type { SpanRecord } from '../../core/types';

/** Span.flags bits 8 and 9 (trace.proto SpanFlags): whether the parent is known to be remote, and if it is. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

export const traceFlagsOf = (s: SpanRecord): number => s.traceFlags ?? TraceFlags.SAMPLED;

/** The parent came from a traceparent header (another process) and the span still has it. */
export const parentIsRemote = (s: SpanRecord): boolean => s.parentSpanId !== undefined && s.parentSpanId === s.remoteParentSpanId;

/** OTLP Span.flags: the W3C trace flags in bits 0-7, and whether the parent is remote. */
export const spanFlags = (s: SpanRecord): number => (traceFlagsOf(s) & 0xff) | HAS_IS_REMOTE | (parentIsRemote(s) ? IS_REMOTE : 0);

/** An attribute number that OTLP carries as int64 (AnyValue.int_value); any other number is a double. */
export const isInt64 = (n: number): boolean => Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63;
