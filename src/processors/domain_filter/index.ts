// The `domain_filter` processor: keeps or drops spans by host (Host header / :authority, as
// server.address), connection IP / CIDR and port. See README.md in this folder.

import { type ComponentFactory, type CreateContext, type KernelFilter, type SpanProcessorComponent, type Stats } from '../../core/component';
import type { SpanConsumer, SpanRecord } from '../../core/types';
import { join, parseSection, type SectionSpec } from '../../config/schema';
import { Rule, endpointsOf, type RuleConfig } from './rules';

export interface DomainFilterConfig {
  include: RuleConfig[];
  exclude: RuleConfig[];
  pushdown: boolean;
}

const ruleSpec: SectionSpec = {
  hosts: { type: 'list', of: { type: 'string' }, default: [], doc: 'host names: exact, glob (*.example.com) or /regexp/' },
  ips: { type: 'list', of: { type: 'string' }, default: [], doc: 'IPs or CIDRs, matched against either endpoint of the connection' },
  ports: { type: 'list', of: { type: 'int', min: 1, max: 65535 }, default: [], doc: 'ports, matched against either endpoint of the connection' },
};

export const domainFilterSpec: SectionSpec = {
  include: {
    type: 'list',
    of: { type: 'object', fields: ruleSpec },
    default: [],
    doc: 'keep only spans matching one of these rules (none: keep all); a rule matches when each kind it lists matches',
  },
  exclude: { type: 'list', of: { type: 'object', fields: ruleSpec }, default: [], doc: 'drop spans matching one of these rules (after include)' },
  pushdown: { type: 'bool', default: true, doc: "apply include rules made only of IPs and ports in the receivers' in-kernel filters too, when equivalent" },
};

export function parseDomainFilterConfig(raw: unknown, path: string): DomainFilterConfig {
  const cfg = parseSection<DomainFilterConfig>(raw, path, domainFilterSpec);
  // Build the rules once to validate patterns and CIDRs with their paths.
  compile(cfg, path);
  return cfg;
}

function compile(cfg: DomainFilterConfig, path: string): { include: Rule[]; exclude: Rule[] } {
  return {
    include: cfg.include.map((r, i) => new Rule(r, join(join(path, 'include'), i))),
    exclude: cfg.exclude.map((r, i) => new Rule(r, join(join(path, 'exclude'), i))),
  };
}

/** Include-only rules made of IPs/ports, all of one shape: what the kernel can filter on. */
export function kernelFilterOf(cfg: DomainFilterConfig): KernelFilter | null {
  const include = cfg.include;
  if (!cfg.pushdown || include.length === 0) return null;
  // A necessary condition of every rule (rules are ORed): the union of their ports when every
  // rule lists ports, the union of their IPs when every rule lists IPs. The kernel ANDs the two,
  // which every matching connection satisfies; user space still applies the rules exactly.
  const out: KernelFilter = {};
  if (include.every((r) => r.ports.length > 0)) out.ports = [...new Set(include.flatMap((r) => r.ports))].sort((a, b) => a - b);
  if (include.every((r) => r.ips.length > 0)) out.addresses = [...new Set(include.flatMap((r) => r.ips))];
  return out.ports || out.addresses ? out : null;
}

export class DomainFilterProcessor implements SpanProcessorComponent {
  private readonly include: Rule[];
  private readonly exclude: Rule[];
  private readonly n = { in: 0, kept: 0, notIncluded: 0, excluded: 0 };

  constructor(
    cfg: DomainFilterConfig,
    private readonly ctx: CreateContext,
    private readonly next: SpanConsumer,
  ) {
    ({ include: this.include, exclude: this.exclude } = compile(cfg, ctx.id));
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** True when the span passes the rules. */
  keep(span: SpanRecord): boolean {
    const e = endpointsOf(span);
    if (this.include.length > 0 && !this.include.some((r) => r.matches(e))) {
      this.n.notIncluded++;
      return false;
    }
    if (this.exclude.some((r) => r.matches(e))) {
      this.n.excluded++;
      return false;
    }
    return true;
  }

  consumeSpans(spans: SpanRecord[]): void {
    this.n.in += spans.length;
    const out = spans.filter((s) => this.keep(s));
    this.n.kept += out.length;
    if (out.length > 0) this.next.consumeSpans(out);
  }

  stats(): Stats {
    return {
      'spans.in': this.n.in,
      'spans.kept': this.n.kept,
      'spans.filtered': this.n.notIncluded + this.n.excluded,
      'spans.filtered.not_included': this.n.notIncluded,
      'spans.filtered.excluded': this.n.excluded,
    };
  }
}

export const domainFilterProcessorFactory: ComponentFactory<DomainFilterConfig, DomainFilterProcessor, SpanConsumer> & { spec: SectionSpec } = {
  type: 'domain_filter',
  kind: 'processor',
  stage: 'spans',
  description: 'keeps or drops spans by host (exact, glob, /regexp/), IP/CIDR and port; IP/port include rules also run in the kernel',
  spec: domainFilterSpec,
  parseConfig: (raw, path) => parseDomainFilterConfig(raw, path),
  capabilities: { kernelFilter: kernelFilterOf },
  create: (cfg, ctx, next) => new DomainFilterProcessor(cfg, ctx, next),
};
