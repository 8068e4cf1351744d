// domain_filter: host (exact, glob, regexp), IP/CIDR and port rules, include/exclude, stats, and
// the push-down of IP/port include rules into the tcp receiver's in-kernel filters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainFilterProcessor, domainFilterProcessorFactory, kernelFilterOf } from '../../src/processors/domain_filter';
import { planPushdown } from '../../src/pushdown';
import type { CollectorConfig, ComponentConfig } from '../../src/config/loader';
import type { KernelFilter } from '../../src/core/component';
import { tcpReceiverFactory } from '../../src/receivers/tcp';
import { unixReceiverFactory } from '../../src/receivers/unix';
import type { SpanConsumer, SpanRecord } from '../../src/core/types';
import { DISCARD, makeSpan, memoryLogger } from './helpers/fakes';

const P = 'processors::domain_filter';
const make = (raw: unknown, next: SpanConsumer = DISCARD) =>
  new DomainFilterProcessor(domainFilterProcessorFactory.parseConfig(raw, P), { id: 'domain_filter', logger: memoryLogger() }, next);
/** The kernel filter the factory declares for a config (its kernelFilter capability). */
const pushable = (raw: unknown) => kernelFilterOf(domainFilterProcessorFactory.parseConfig(raw, P));

function span(host: string | undefined, remote: string, remotePort: number, local = '10.0.0.9', localPort = 40000): SpanRecord {
  const s = makeSpan({ attributes: host === undefined ? {} : { 'server.address': host, 'server.port': remotePort } });
  s.internal = { conn: { family: remote.includes(':') ? 6 : 4, localAddr: local, localPort, remoteAddr: remote, remotePort } };
  return s;
}

const OPENAI = span('api.openai.com', '104.18.6.192', 443);
const ANTHROPIC = span('api.anthropic.com', '160.79.104.10', 443);
const LOCAL = span('localhost', '127.0.0.1', 11434);
const GATEWAY = span('llm-7.internal', '10.1.2.3', 8080);
const V6 = span('ollama', '::1', 11434, '::1');
const ALL = [OPENAI, ANTHROPIC, LOCAL, GATEWAY, V6];

const kept = (raw: unknown) => {
  const f = make(raw);
  return ALL.filter((s) => f.keep(s)).map((s) => s.attributes['server.address']);
};

test('host rules: exact (case-insensitive, trailing dot), glob, /regexp/', () => {
  assert.deepEqual(kept({ include: [{ hosts: ['API.OpenAI.com.'] }] }), ['api.openai.com']);
  assert.deepEqual(kept({ include: [{ hosts: ['*.openai.com', 'api.anthropic.*'] }] }), ['api.openai.com', 'api.anthropic.com']);
  assert.deepEqual(kept({ include: [{ hosts: ['/^llm-\\d+\\./'] }] }), ['llm-7.internal']);
  assert.deepEqual(kept({ exclude: [{ hosts: ['*.com'] }] }), ['localhost', 'llm-7.internal', 'ollama']);
});

test('IP / CIDR and port rules match either endpoint of the connection; kinds AND, rules OR', () => {
  assert.deepEqual(kept({ include: [{ ips: ['10.1.0.0/16'] }] }), ['llm-7.internal']);
  assert.deepEqual(kept({ include: [{ ips: ['10.0.0.9'] }] }), ['api.openai.com', 'api.anthropic.com', 'localhost', 'llm-7.internal'], 'local endpoint');
  assert.deepEqual(kept({ include: [{ ips: ['::1/128'] }] }), ['ollama']);
  assert.deepEqual(kept({ include: [{ ports: [11434] }] }), ['localhost', 'ollama']);
  assert.deepEqual(kept({ include: [{ ports: [11434], ips: ['127.0.0.0/8'] }] }), ['localhost']);
  assert.deepEqual(kept({ include: [{ ports: [8080] }, { hosts: ['*.anthropic.com'] }] }), ['api.anthropic.com', 'llm-7.internal']);
  assert.deepEqual(kept({ include: [{ ports: [443] }], exclude: [{ hosts: ['api.anthropic.com'] }] }), ['api.openai.com']);
});

test('stats count what was filtered and why; consumeSpans hands on only kept spans', () => {
  const out: SpanRecord[] = [];
  const f = make({ include: [{ ports: [443] }], exclude: [{ hosts: ['api.anthropic.com'] }] }, { consumeSpans: (s) => void out.push(...s) });
  f.consumeSpans(ALL);
  assert.deepEqual(out, [OPENAI]);
  assert.deepEqual(f.stats(), { 'spans.in': 5, 'spans.kept': 1, 'spans.filtered': 4, 'spans.filtered.not_included': 3, 'spans.filtered.excluded': 1 });
});

test('spans without connection endpoints fall back to their attributes', () => {
  const s = makeSpan({ attributes: { 'server.address': 'x', 'server.port': 8443, 'network.peer.address': '192.168.1.5', 'network.peer.port': 8443 } });
  assert.ok(make({ include: [{ ports: [8443], ips: ['192.168.0.0/16'] }] }).keep(s));
});

test('config errors name their path', () => {
  assert.throws(
    () => domainFilterProcessorFactory.parseConfig({ include: [{}] }, P),
    /domain_filter::include::0: a rule needs at least one of hosts, ips, ports/,
  );
  assert.throws(() => domainFilterProcessorFactory.parseConfig({ include: [{ ips: ['10.0.0.0/33'] }] }, P), /include::0::ips::0: not an IP address or CIDR/);
  assert.throws(() => domainFilterProcessorFactory.parseConfig({ exclude: [{ hosts: ['/(/'] }] }, P), /exclude::0::hosts::0: invalid regular expression/);
  assert.throws(() => domainFilterProcessorFactory.parseConfig({ include: [{ port: [1] }] }, P), /include::0::port: unknown key/);
});

test('kernelFilter: a necessary condition of the include rules, or null', () => {
  assert.deepEqual(pushable({ include: [{ ports: [443] }, { ports: [8080, 443] }] }), { ports: [443, 8080] });
  assert.deepEqual(pushable({ include: [{ ips: ['10.0.0.0/8'] }, { ips: ['::1'] }] }), { addresses: ['10.0.0.0/8', '::1'] });
  assert.deepEqual(pushable({ include: [{ ports: [443], ips: ['10.0.0.0/8'] }] }), { ports: [443], addresses: ['10.0.0.0/8'] });
  assert.deepEqual(pushable({ include: [{ ports: [443], hosts: ['*.openai.com'] }] }), { ports: [443] });
  assert.equal(pushable({ include: [{ ports: [443] }, { ips: ['10.0.0.0/8'] }] }), null, 'port OR ip: the kernel cannot say it');
  assert.equal(pushable({ include: [{ hosts: ['a'] }] }), null);
  assert.equal(pushable({ exclude: [{ ports: [22] }] }), null, 'excludes are never pushed');
  assert.equal(pushable({ include: [{ ports: [443] }], pushdown: false }), null);
});

function config(receivers: Record<string, { type: string; config: unknown }>, pipelines: Array<{ id: string; receivers: string[] }>): CollectorConfig {
  const r = new Map<string, ComponentConfig>();
  const factories = { tcp: tcpReceiverFactory, unix: unixReceiverFactory } as Record<string, ComponentConfig['factory']>;
  for (const [id, v] of Object.entries(receivers)) r.set(id, { id, kind: 'receiver', type: v.type, factory: factories[v.type]!, config: v.config });
  return {
    source: 'test',
    receivers: r,
    processors: new Map(),
    exporters: new Map(),
    pipelines: pipelines.map((p) => ({ ...p, processors: [], exporters: [] })),
    logLevel: 'info',
    telemetry: {} as never,
    warnings: [],
  };
}

test('planPushdown: every pipeline fed by the receiver must filter; unions; merged with the receiver own filters', () => {
  const tcp = (ports: number[] = [], addresses: string[] = []) => ({ type: 'tcp', config: { ports, addresses, targets: [], pids: [] } });
  const procs: Record<string, Array<KernelFilter | null>> = {
    a: [pushable({ include: [{ ports: [8080] }] })],
    b: [pushable({ include: [{ ports: [9090] }] })],
    none: [],
    ips: [pushable({ include: [{ ips: ['127.0.0.1'] }] })],
  };
  const of = (id: string) => procs[id]!;
  let plan = planPushdown(
    config({ tcp: tcp() }, [
      { id: 'a', receivers: ['tcp'] },
      { id: 'b', receivers: ['tcp'] },
    ]),
    of,
  );
  assert.deepEqual(plan.get('tcp')!.config, { ports: [8080, 9090], addresses: [], targets: [], pids: [] });
  assert.match(plan.get('tcp')!.note, /ports \[8080, 9090\]/);
  plan = planPushdown(
    config({ tcp: tcp() }, [
      { id: 'a', receivers: ['tcp'] },
      { id: 'none', receivers: ['tcp'] },
    ]),
    of,
  );
  assert.equal(plan.size, 0, 'a pipeline without a filter needs everything');
  plan = planPushdown(
    config({ tcp: tcp() }, [
      { id: 'a', receivers: ['tcp'] },
      { id: 'ips', receivers: ['tcp'] },
    ]),
    of,
  );
  assert.equal(plan.size, 0, 'ports in one, addresses in the other: no common condition');
  plan = planPushdown(config({ tcp: tcp([8080, 443]) }, [{ id: 'a', receivers: ['tcp'] }]), of);
  assert.deepEqual((plan.get('tcp')!.config as { ports: number[] }).ports, [8080]);
  plan = planPushdown(config({ tcp: tcp([443]) }, [{ id: 'a', receivers: ['tcp'] }]), of);
  assert.equal(plan.size, 0, 'an empty intersection leaves the receiver as configured');
  plan = planPushdown(config({ tcp: tcp([], ['10.0.0.0/8']) }, [{ id: 'ips', receivers: ['tcp'] }]), of);
  assert.equal(plan.size, 0, 'addresses only when the receiver has none');
  plan = planPushdown(config({ u: { type: 'unix', config: {} } }, [{ id: 'a', receivers: ['u'] }]), of);
  assert.equal(plan.size, 0, 'only the tcp receiver has these filters');
});
