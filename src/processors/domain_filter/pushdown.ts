// Push-down of domain_filter rules into the tcp receiver's in-kernel filters, decided once while
// the service builds the pipelines. The span processors keep filtering in user space; the kernel
// filter only has to let through at least what every pipeline fed by the receiver keeps:
//   - every such pipeline has a processor with a kernel filter (else nothing is pushed);
//   - ports are pushed when every pipeline's filter has ports (their union), addresses likewise;
//   - merged with the receiver's own settings: ports intersected with ports already set (an empty
//     intersection pushes nothing), addresses only when the receiver has none.
// Only the `tcp` receiver type has these filters.

import type { KernelFilter, SpanProcessorComponent } from '../../core/component';
import type { CollectorConfig } from '../../config/loader';

export interface PushdownPlan {
  config: unknown;
  /** What was pushed, for the log. */
  note: string;
}

export function planPushdown(c: CollectorConfig, processorsOf: (pipelineId: string) => SpanProcessorComponent[]): Map<string, PushdownPlan> {
  const plans = new Map<string, PushdownPlan>();
  for (const [id, rc] of c.receivers) {
    if (rc.type !== 'tcp') continue;
    const fed = c.pipelines.filter((p) => p.receivers.includes(id));
    if (fed.length === 0) continue;
    const filters: KernelFilter[] = [];
    for (const p of fed) {
      const f = processorsOf(p.id)
        .map((proc) => proc.kernelFilter?.() ?? null)
        .find((x) => x !== null);
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
