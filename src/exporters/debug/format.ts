// One readable line per span for the console. Picks the attributes a person looks for first
// (method, URL or path, status, peer) from the semantic conventions the http processor emits.

import type { AttributeValue, Attributes, SpanRecord } from '../../core/types';

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

function isoTime(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

export function formatSpan(s: SpanRecord, verbosity: Verbosity): string {
  const status = STATUS_NAMES[s.status.code] ?? String(s.status.code);
  const parts = [
    isoTime(s.startTimeUnixNano),
    (KIND_NAMES[s.kind] ?? String(s.kind)).padEnd(6),
    serviceName(s.resource.attributes),
    JSON.stringify(s.name),
    s.status.message ? `${status}(${s.status.message})` : status,
  ];
  if (verbosity !== 'basic') {
    for (const [label, keys] of KEY_ATTRIBUTES) {
      const key = keys.find((k) => s.attributes[k] !== undefined);
      if (key) parts.push(`${label}=${formatValue(s.attributes[key]!)}`);
    }
  }
  parts.push(`dur=${formatDuration(s.endTimeUnixNano - s.startTimeUnixNano)}`);
  if (verbosity !== 'basic') parts.push(`trace=${s.traceId.slice(0, 8)}`, `span=${s.spanId.slice(0, 8)}`);
  let line = parts.join(' ');
  if (verbosity === 'detailed') {
    // Everything, on indented lines under the span's line, so the one-line view stays scannable.
    line += `\n    ids: trace=${s.traceId} span=${s.spanId}${s.parentSpanId ? ` parent=${s.parentSpanId}` : ''}`;
    for (const [k, v] of Object.entries(s.attributes)) line += `\n    ${k}=${formatValue(v)}`;
    for (const [k, v] of Object.entries(s.resource.attributes)) line += `\n    resource.${k}=${formatValue(v)}`;
    for (const e of s.events) {
      const attrs = Object.entries(e.attributes).map(([k, v]) => ` ${k}=${formatValue(v)}`).join('');
      line += `\n    event ${isoTime(e.timeUnixNano)} ${JSON.stringify(e.name)}${attrs}`;
    }
  }
  return line;
}
