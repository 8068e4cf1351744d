// Push-down of span processors' filters (Capabilities.kernelFilter: domain_filter's rules) into
// the receivers' in-kernel filters (Capabilities.kernelFilters: the tcp receiver's), decided once
// while the service builds the pipelines, from the configs alone. The span processors keep
// filtering in user space; the kernel filter only has to let through at least what every
// pipeline fed by the receiver keeps:
//   - every such pipeline has a processor with a kernel filter (else nothing is pushed);
//   - ports are pushed when every pipeline's filter has ports (their union), addresses likewise;
//   - merged with the receiver's own settings: ports intersected with ports already set (an empty
//     intersection pushes nothing), addresses only when the receiver has none.

import type { KernelFilter } from './core/component';
import type { CollectorConfig } from './config/loader';

export interface PushdownPlan {
  config: unknown;
  /** What was pushed, for the log. */
  note: string;
}

/** The kernel filters a pipeline's span processors declare, in order (null: that processor has none). */
export function declaredFilters(c: CollectorConfig, pipelineId: string): Array<KernelFilter | null> {
  const p = c.pipelines.find((x) => x.id === pipelineId)!;
  return p.processors.slice(1).map((id) => {
    const pc = c.processors.get(id)!;
    return pc.factory.capabilities?.kernelFilter?.(pc.config) ?? null;
  });
}

export function planPushdown(
  c: CollectorConfig,
  filtersOf: (pipelineId: string) => Array<KernelFilter | null> = (p) => declaredFilters(c, p),
): Map<string, PushdownPlan> {
  const plans = new Map<string, PushdownPlan>();
  for (const [id, rc] of c.receivers) {
    if (!rc.factory.capabilities?.kernelFilters) continue;
    const fed = c.pipelines.filter((p) => p.receivers.includes(id));
    if (fed.length === 0) continue;
    const filters: KernelFilter[] = [];
    for (const p of fed) {
      const f = filtersOf(p.id).find((x) => x !== null);
      if (!f) break;
      filters.push(f);
    }
    if (filters.length !== fed.length) continue;
    const cfg = { ...(rc.config as { ports?: number[]; addresses?: string[] }) };
    const notes: string[] = [];
    if (filters.every((f) => f.ports) && Array.isArray(cfg.ports)) {
      const own = cfg.ports;
      let ports = [...new Set(filters.flatMap((f) => f.ports!))].sort((a, b) => a - b);
      if (own.length > 0) ports = ports.filter((p) => own.includes(p));
      if (ports.length > 0) {
        cfg.ports = ports;
        notes.push(`ports [${ports.join(', ')}]`);
      }
    }
    if (filters.every((f) => f.addresses) && Array.isArray(cfg.addresses) && cfg.addresses.length === 0) {
      cfg.addresses = [...new Set(filters.flatMap((f) => f.addresses!))];
      notes.push(`addresses [${cfg.addresses!.join(', ')}]`);
    }
    if (notes.length > 0) plans.set(id, { config: cfg, note: `domain_filter pushed down into the kernel filter: ${notes.join(' and ')}` });
  }
  return plans;
}
