// W3C Trace Context (https://www.w3.org/TR/trace-context/) parsing, and span/trace id generation.

import { randomFillSync } from 'node:crypto';
import { ROOT_CONTEXT, trace, type TextMapGetter } from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';

export interface TraceParent {
  traceId: string;
  parentId: string;
  flags: number;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** Made at the first traceparent: @opentelemetry/core takes a few hundred ms to load. */
let propagator: W3CTraceContextPropagator | undefined;
const oneHeader: TextMapGetter<string> = { get: (value, key) => (key === 'traceparent' ? value : undefined), keys: () => ['traceparent'] };

/**
 * A traceparent (the one value the parsers kept: a header sent twice is none) as
 * OpenTelemetry's W3C propagator reads it: lowercase hex, neither id all zeros, version ff
 * refused, a higher version read for its first four fields, version 00 with nothing after them.
 */
export function parseTraceparent(value: string | undefined): TraceParent | null {
  if (value === undefined) return null;
  propagator ??= new (require('@opentelemetry/core') as typeof import('@opentelemetry/core')).W3CTraceContextPropagator();
  const context = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, value, oneHeader));
  return context === undefined ? null : { traceId: context.traceId, parentId: context.spanId, flags: context.traceFlags };
}

// list-member = key "=" value; key = simple-key / multi-tenant-key; value = 0*255(chr) nblk-chr
const TS_KEY = /^(?:[a-z][_0-9a-z\-*/]{0,255}|[a-z0-9][_0-9a-z\-*/]{0,240}@[a-z][_0-9a-z\-*/]{0,13})$/;
const TS_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * Validates a tracestate (combined header values). Returns it normalised (empty members and
 * OWS removed) or undefined when invalid or empty; per the spec an invalid tracestate is
 * dropped while the traceparent is kept (whole: OpenTelemetry's TraceState would keep the
 * members it can read, and pass on a header the caller's vendors could not have written).
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
