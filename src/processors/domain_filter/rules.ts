// domain_filter rules: which spans a rule matches. A rule lists hosts, ips and/or ports; every
// kind it lists must match (AND), any entry of a kind may match (OR) — the tcp receiver's
// in-kernel filter semantics, so IP/port-only rules can be pushed down (pushdown.ts).

import { ConfigError } from '../../core/component';
import type { SpanRecord } from '../../core/types';
import { join } from '../../config/schema';
import { addressBytes, parseCidr } from '../../shared/addresses';
import { globRegExp } from '../../shared/glob';

export interface RuleConfig {
  hosts: string[];
  ips: string[];
  ports: number[];
}

/** "api.openai.com" (exact, case-insensitive), "*.openai.com" (glob: * any run, ? one char), "/^llm-\d+$/" (regexp). */
export function hostMatcher(pattern: string, path: string): (host: string) => boolean {
  if (pattern.length >= 2 && pattern.startsWith('/') && pattern.lastIndexOf('/') > 0) {
    const last = pattern.lastIndexOf('/');
    let re: RegExp;
    try {
      re = new RegExp(pattern.slice(1, last), pattern.slice(last + 1) || 'i');
    } catch (e) {
      throw new ConfigError(path, `invalid regular expression ${pattern}: ${(e as Error).message}`);
    }
    return (h) => re.test(h);
  }
  const p = normalizeHost(pattern);
  if (!/[*?]/.test(p)) return (h) => h === p;
  const re = globRegExp(p);
  return (h) => re.test(h);
}

const normalizeHost = (h: string) => h.trim().toLowerCase().replace(/\.$/, '');

function cidrMatcher(text: string, path: string): (addr: Buffer) => boolean {
  const c = parseCidr(text);
  if (!c) throw new ConfigError(path, `not an IP address or CIDR: ${JSON.stringify(text)}`);
  return (addr) => {
    let bits = c.prefix;
    for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((addr[i]! & mask) !== (c.addr[i]! & mask)) return false;
    }
    return true;
  };
}

/** The endpoint facts a rule looks at, from the span. */
export interface SpanEndpoints {
  host: string | undefined;
  addrs: Buffer[];
  ports: number[];
}

export function endpointsOf(span: SpanRecord): SpanEndpoints {
  const a = span.attributes;
  const host = typeof a['server.address'] === 'string' ? normalizeHost(a['server.address']) : undefined;
  const conn = span.internal?.conn;
  const addrs: Buffer[] = [];
  const ports: number[] = [];
  if (conn !== undefined) {
    // The connection's two endpoints, as the kernel filter sees them.
    for (const t of [conn.localAddr, conn.remoteAddr]) {
      const b = t ? addressBytes(t) : null;
      if (b) addrs.push(b);
    }
    if (conn.localPort > 0) ports.push(conn.localPort);
    if (conn.remotePort > 0) ports.push(conn.remotePort);
  } else {
    for (const k of ['network.peer.address', 'server.address', 'client.address']) {
      const v = a[k];
      const b = typeof v === 'string' ? addressBytes(v) : null;
      if (b) addrs.push(b);
    }
    for (const k of ['network.peer.port', 'server.port']) if (typeof a[k] === 'number') ports.push(a[k]);
  }
  return { host, addrs, ports };
}

export class Rule {
  private readonly hosts: Array<(h: string) => boolean>;
  private readonly ips: Array<(a: Buffer) => boolean>;
  private readonly ports: Set<number>;

  constructor(
    readonly cfg: RuleConfig,
    path: string,
  ) {
    if (cfg.hosts.length === 0 && cfg.ips.length === 0 && cfg.ports.length === 0) throw new ConfigError(path, 'a rule needs at least one of hosts, ips, ports');
    this.hosts = cfg.hosts.map((h, i) => hostMatcher(h, join(join(path, 'hosts'), i)));
    this.ips = cfg.ips.map((ip, i) => cidrMatcher(ip, join(join(path, 'ips'), i)));
    this.ports = new Set(cfg.ports);
  }

  matches(e: SpanEndpoints): boolean {
    if (this.hosts.length > 0 && (e.host === undefined || !this.hosts.some((m) => m(e.host!)))) return false;
    if (this.ips.length > 0 && !e.addrs.some((a) => this.ips.some((m) => m(a)))) return false;
    if (this.ports.size > 0 && !e.ports.some((p) => this.ports.has(p))) return false;
    return true;
  }

  /** Only IPs and/or ports: the kernel can decide it. */
  get kernelOnly(): boolean {
    return this.cfg.hosts.length === 0;
  }
}
