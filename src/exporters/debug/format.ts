// One readable line per span for the console. Picks the attributes a person looks for first
// (method, URL or path, status, peer) from the semantic conventions the http processor emits.

import type { AttributeValue, Attributes, SpanRecord } from '../../core/types';
import { jsonString } from '../otlp/json';

export type Verbosity = 'basic' | 'normal' | 'detailed';

const KIND_NAMES: Record<number, string> = { 0: 'UNSPECIFIED', 1: 'INTERNAL', 2: 'SERVER', 3: 'CLIENT', 4: 'PRODUCER', 5: 'CONSUMER' };
const STATUS_NAMES: Record<number, string> = { 0: 'UNSET', 1: 'OK', 2: 'ERROR' };

/** Key attributes, first match wins within each group; label → candidate attribute names. */
const KEY_ATTRIBUTES: Array<[string, string[]]> = [
  ['method', ['http.request.method', 'rpc.method']],
  ['url', ['url.full', 'url.path', 'rpc.service']],
  ['status', ['http.response.status_code', 'rpc.grpc.status_code']],
  ['peer', ['server.address', 'network.peer.address']],
  ['model', ['gen_ai.request.model']],
];

export function serviceName(resource: Attributes): string {
  const v = resource['service.name'] ?? resource['process.executable.name'] ?? resource['process.command'];
  return v === undefined ? 'unknown' : String(v);
}

export function formatDuration(ns: bigint): string {
  const n = Number(ns);
  if (n < 1e3) return `${n}ns`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}µs`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)}ms`;
  return `${(n / 1e9).toFixed(2)}s`;
}

function formatValue(v: AttributeValue): string {
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x)).join(',')}]`;
  if (typeof v === 'string') return /[\s"]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return String(v);
}

// Spans of a batch mostly start within the same second: its ISO text ("…T08:00:00.") is made
// once, and only the milliseconds per span.
let isoSecond = NaN;
let isoSecondText = '';

function isoTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecondText = new Date(second * 1000).toISOString().slice(0, -4); // without "sssZ"
    isoSecond = second;
  }
  const milli = ms - second * 1000;
  return `${isoSecondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Kind column, padded: one string per kind. */
const KIND_COLUMN: Record<number, string> = Object.fromEntries(Object.entries(KIND_NAMES).map(([k, name]) => [k, name.padEnd(6)]));

export function formatSpan(s: SpanRecord, verbosity: Verbosity): string {
  // One string built in place (this runs for every span of the default pipeline).
  const status = STATUS_NAMES[s.status.code] ?? String(s.status.code);
  let line = `${isoTime(s.startTimeUnixNano)} ${KIND_COLUMN[s.kind] ?? String(s.kind).padEnd(6)} ${serviceName(s.resource.attributes)} ${jsonString(s.name)} ${s.status.message ? `${status}(${s.status.message})` : status}`;
  if (verbosity !== 'basic') {
    for (const [label, keys] of KEY_ATTRIBUTES) {
      for (const key of keys) {
        const v = s.attributes[key];
        if (v === undefined) continue;
        line += ` ${label}=${formatValue(v)}`;
        break;
      }
    }
  }
  line += ` dur=${formatDuration(s.endTimeUnixNano - s.startTimeUnixNano)}`;
  if (verbosity !== 'basic') {
    line += ` trace=${s.traceId.slice(0, 8)} span=${s.spanId.slice(0, 8)}`;
    if (s.parentSpanId !== undefined && verbosity === 'normal') line += ` parent=${s.parentSpanId.slice(0, 8)}`; // who calls whom, on one screen
  }
  if (verbosity === 'detailed') {
    // Everything, on indented lines under the span's line, so the one-line view stays scannable.
    line += `\n    ids: trace=${s.traceId} span=${s.spanId}${s.parentSpanId ? ` parent=${s.parentSpanId}` : ''}`;
    for (const [k, v] of Object.entries(s.attributes)) line += `\n    ${k}=${formatValue(v)}`;
    for (const [k, v] of Object.entries(s.resource.attributes)) line += `\n    resource.${k}=${formatValue(v)}`;
    for (const e of s.events) {
      const attrs = Object.entries(e.attributes)
        .map(([k, v]) => ` ${k}=${formatValue(v)}`)
        .join('');
      line += `\n    event ${isoTime(e.timeUnixNano)} ${JSON.stringify(e.name)}${attrs}`;
    }
  }
  return line;
}
