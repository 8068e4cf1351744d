// The exit summary: what was captured, turned into spans and exported, and every drop by
// reason (zeros included, so a clean run visibly says "nothing was lost").

import type { ComponentKind, Stats } from './core/component';

export interface ComponentStats {
  /** `receiver/tcp`, `processor/http@traces`, `exporter/otlp`. */
  label: string;
  kind: ComponentKind;
  /** The component ID as configured (`tcp`, `otlp/jaeger`); for self-metrics labels. */
  id?: string;
  /** Processors run once per pipeline: which one. */
  pipeline?: string;
  /** Receivers: the kernel backend that runs, when the component says. */
  backend?: string;
  stage?: 'chunks' | 'spans';
  stats: Stats;
}

export interface Summary {
  records: number;
  bytes: number;
  exchanges: number;
  /** Summed over exporters: a span sent to two exporters counts twice (see exportedBy). */
  spansExported: number;
  /** Exporter label → spans it delivered. */
  exportedBy: Record<string, number>;
  /** Reason (the key after 'drops.') → count, summed over components. */
  drops: Record<string, number>;
  /** label → reason → count, non-zero only, for the detail line. */
  dropsByComponent: Record<string, Record<string, number>>;
}

/** First key present wins: the names other components use for the same count. */
const RECORD_KEYS = ['records', 'records.received', 'chunks'];
const BYTE_KEYS = ['bytes', 'bytes.received', 'bytes.captured'];
const EXCHANGE_KEYS = ['exchanges', 'exchanges.completed'];
const EXPORTED_KEYS = ['spans.sent', 'spans.exported'];

const pick = (stats: Stats, keys: string[]) => {
  const key = keys.find((k) => typeof stats[k] === 'number');
  return key ? stats[key]! : 0;
};

export function summarize(components: ComponentStats[]): Summary {
  const s: Summary = { records: 0, bytes: 0, exchanges: 0, spansExported: 0, exportedBy: {}, drops: {}, dropsByComponent: {} };
  for (const c of components) {
    if (c.kind === 'receiver') {
      s.records += pick(c.stats, RECORD_KEYS);
      s.bytes += pick(c.stats, BYTE_KEYS);
    } else if (c.kind === 'processor' && c.stage === 'chunks') {
      s.exchanges += pick(c.stats, EXCHANGE_KEYS);
    } else if (c.kind === 'exporter') {
      const n = pick(c.stats, EXPORTED_KEYS);
      s.spansExported += n;
      s.exportedBy[c.label.replace(/^exporter\//, '')] = n;
    }
    for (const [key, n] of Object.entries(c.stats)) {
      if (!key.startsWith('drops.')) continue;
      const reason = key.slice('drops.'.length);
      s.drops[reason] = (s.drops[reason] ?? 0) + n;
      if (n > 0) (s.dropsByComponent[c.label] ??= {})[reason] = n;
    }
  }
  return s;
}

export function formatSummary(s: Summary): string[] {
  const reasons = Object.keys(s.drops).sort();
  // Byte counters (`..._bytes`) are not added to the count of dropped items.
  const isBytes = (r: string) => r.endsWith('bytes');
  const total = reasons.filter((r) => !isBytes(r)).reduce((sum, r) => sum + s.drops[r]!, 0);
  const bytes = reasons.filter(isBytes).reduce((sum, r) => sum + s.drops[r]!, 0);
  const dropList = reasons.length ? reasons.map((r) => `${r}=${s.drops[r]}`).join(' ') : '(no component reports drops)';
  const by = Object.entries(s.exportedBy);
  const perExporter = by.length > 1 ? ` (${by.map(([id, n]) => `${id}=${n}`).join(' ')})` : '';
  const lines = [
    `summary: records=${s.records} bytes=${s.bytes} exchanges=${s.exchanges} spans_exported=${s.spansExported}${perExporter} drops_total=${total}${bytes ? ` dropped_bytes=${bytes}` : ''}`,
    `summary: drops by reason: ${dropList}`,
  ];
  const detail = Object.entries(s.dropsByComponent).map(
    ([label, d]) =>
      `${label}: ${Object.entries(d)
        .map(([r, n]) => `${r}=${n}`)
        .join(' ')}`,
  );
  if (detail.length) lines.push(`summary: drops by component: ${detail.join('; ')}`);
  return lines;
}
