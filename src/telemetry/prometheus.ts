// Self-metrics in the Prometheus text format (version 0.0.4), built from every component's
// stats() with no per-component code:
//
//   drops.<reason>          → tcpsniff_dropped_total{<kind>="<id>", reason="<reason>"}
//                             (reasons ending in _bytes → tcpsniff_dropped_bytes_total)
//   a counter key           → tcpsniff_<kind>_<key>_total{<kind>="<id>"}
//   a gauge key (see below) → tcpsniff_<kind>_<key>{<kind>="<id>"}
//
// Keys are dotted (`spans.sent`, `connections.open`); dots become underscores and a leading
// `bytes.` moves to the end, so units come last as Prometheus names want them
// (`bytes.written` → `written_bytes_total`). Labels: `receiver`, `processor` or `exporter` with
// the component ID (as the Collector names its own metrics), `pipeline` for processors (one
// instance per pipeline), `backend` for receivers that report which kernel backend runs.
// Process metrics (RSS, heap, CPU, start time) use the standard process_/nodejs_ names.

import type { ComponentStats } from '../summary';

/**
 * Stats keys that are current levels, not running totals: a last segment naming a state
 * (`connections.open`, `connections.active`, `streams.active`) or a first segment naming a
 * holding place (`queue.batches`, `buffer.spans`, `inflight.spans`).
 */
export function isGauge(key: string): boolean {
  return /(^|\.)(open|active|tracked|pending|size|queued)$/.test(key) || /^(queue|buffer|inflight|in_flight|held)\./.test(key);
}

const sanitize = (s: string) =>
  s
    .replace(/[^a-zA-Z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');

/** `spans.sent` → `spans_sent`; `bytes.written` → `written_bytes`. */
export function metricStem(key: string): string {
  const parts = key.split('.');
  if (parts.length > 1 && parts[0] === 'bytes') parts.push(parts.shift()!);
  return sanitize(parts.join('_'));
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelText(labels: Record<string, string>): string {
  const entries = Object.entries(labels).filter(([, v]) => v !== undefined);
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
}

const formatValue = (n: number) => (Number.isFinite(n) ? String(n) : Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf');

interface Family {
  type: 'counter' | 'gauge';
  help: string;
  samples: string[];
}

/** Metric families in insertion order; one HELP/TYPE block each. */
export class MetricSet {
  private readonly families = new Map<string, Family>();

  add(name: string, type: Family['type'], help: string, labels: Record<string, string>, value: number) {
    let f = this.families.get(name);
    if (!f) {
      f = { type, help, samples: [] };
      this.families.set(name, f);
    } else if (f.type !== type) {
      return; // two components disagree on a key's kind: keep the first meaning
    }
    f.samples.push(`${name}${labelText(labels)} ${formatValue(value)}`);
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${f.type}`, ...f.samples);
    }
    return out.join('\n') + '\n';
  }
}

/** Known keys get a precise HELP text; the rest a generic one naming the stats key. */
const HELP: Record<string, string> = {
  'receiver:records': 'Capture records received from the kernel.',
  'receiver:bytes': 'Payload bytes captured from sockets.',
  'receiver:connections.open': 'Connections the receiver currently tracks.',
  'receiver:addon.waits_for_consumer':
    'Times the addon thread waited for JavaScript to take a batch (it never drops; the kernel ring buffer absorbs the burst).',
  'processor:chunks': 'Capture chunks the processor consumed.',
  'processor:bytes': 'Payload bytes the processor consumed.',
  'processor:exchanges': 'Request/response exchanges turned into spans.',
  'processor:connections.active': 'Connections the processor currently reassembles.',
  'exporter:spans.sent': 'Spans the exporter delivered (acknowledged by the backend, or written).',
  'exporter:spans.received': 'Spans handed to the exporter by the pipeline.',
  'exporter:queue.batches': 'Batches waiting in the exporter sending queue.',
  'exporter:queue.spans': 'Spans waiting in the exporter sending queue.',
  'exporter:inflight.spans': 'Spans in exports that have not finished (including retries).',
  'exporter:retries': 'Export attempts retried after a retryable failure.',
};

export interface ProcessInfo {
  version: string;
  startTimeSeconds: number;
}

export function renderMetrics(components: ComponentStats[], info: ProcessInfo): string {
  const m = new MetricSet();
  m.add('tcpsniff_build_info', 'gauge', 'tcpsniff-collector build information (value 1).', { version: info.version, node_version: process.version }, 1);
  for (const c of components) {
    const base: Record<string, string> = { [c.kind]: c.id ?? c.label.replace(/^[a-z]+\//, '') };
    if (c.pipeline) base['pipeline'] = c.pipeline;
    if (c.backend) base['backend'] = c.backend;
    for (const [key, value] of Object.entries(c.stats)) {
      if (typeof value !== 'number') continue;
      if (key.startsWith('drops.')) {
        const reason = key.slice('drops.'.length);
        if (reason.endsWith('_bytes')) {
          m.add(
            'tcpsniff_dropped_bytes_total',
            'counter',
            'Bytes lost, by place (component) and reason.',
            { ...base, reason: reason.slice(0, -'_bytes'.length) },
            value,
          );
        } else {
          m.add(
            'tcpsniff_dropped_total',
            'counter',
            'Items lost (records, chunks, exchanges or spans, as the place handles them), by place (component) and reason.',
            { ...base, reason },
            value,
          );
        }
        continue;
      }
      const gauge = isGauge(key);
      const name = `tcpsniff_${c.kind}_${metricStem(key)}${gauge ? '' : '_total'}`;
      const help = HELP[`${c.kind}:${key}`] ?? `The ${c.kind} stats counter "${key}".`;
      m.add(name, gauge ? 'gauge' : 'counter', help, base, value);
    }
  }
  const mem = process.memoryUsage();
  m.add('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', {}, mem.rss);
  m.add('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, in bytes.', {}, mem.heapUsed);
  m.add('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap allocated, in bytes.', {}, mem.heapTotal);
  m.add('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript (Buffers), in bytes.', {}, mem.external + mem.arrayBuffers);
  const cpu = process.cpuUsage();
  m.add('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', {}, (cpu.user + cpu.system) / 1e6);
  m.add('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', {}, info.startTimeSeconds);
  return m.text();
}
