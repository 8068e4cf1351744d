// OTLP nests spans as resource → scope → spans. Spans of one process share one Resource
// object (see core/types.ts), so grouping by object identity is exact and cheap.

import type { Resource, SpanRecord } from '../../core/types';

export function groupByResource(spans: readonly SpanRecord[]): Array<{ resource: Resource; spans: SpanRecord[] }> {
  const groups = new Map<Resource, SpanRecord[]>();
  for (const span of spans) {
    const list = groups.get(span.resource);
    if (list) list.push(span);
    else groups.set(span.resource, [span]);
  }
  return [...groups].map(([resource, list]) => ({ resource, spans: list }));
}
