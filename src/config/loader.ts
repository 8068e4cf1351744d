// Loads a pipeline file, Collector-style:
//
//   receivers:  { <type>[/<name>]: {section} }
//   processors: { ... }
//   exporters:  { ... }
//   service:
//     telemetry:
//       logs: { level: info, summary_interval: 0s }   # periodic summary line; 0 = off
//       metrics: { address: "" }                       # Prometheus endpoint, e.g. 0.0.0.0:8888; "" = off
//     pipelines:
//       traces[/<name>]: { receivers: [...], processors: [http, ...], exporters: [...] }
//
// and returns a typed, fully defaulted config: each component's section has gone through its
// factory's parseConfig, so building the pipeline cannot fail on configuration any more.
// Every error is a ConfigError naming its path with `::` separators; all errors of a file are
// reported at once (a ConfigErrors), each once: a pipeline naming a component whose own section
// is invalid does not repeat it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument, LineCounter, YAMLParseError } from 'yaml';
import { ConfigError, type ComponentKind } from '../core/component';
import type { Level } from '../core/logger';
import { substituteEnv, type Env } from './env';
import { ConfigErrorList, eachChecked, join, parseSection, show, type SectionSpec } from './schema';
import type { AnyFactory, Registry } from './registry';

export interface ComponentConfig {
  /** `type[/name]` exactly as written. */
  id: string;
  kind: ComponentKind;
  /** The factory's own type (aliases resolved: `otlp/x` → `otlp_grpc`). */
  type: string;
  factory: AnyFactory;
  /** The factory's parseConfig result: defaults first, user keys on top. */
  config: unknown;
}

export interface PipelineConfig {
  /** `traces` or `traces/<name>`. */
  id: string;
  receivers: string[];
  /** The chunk-stage processor (http) first, then span processors in order. */
  processors: string[];
  exporters: string[];
}

export interface CollectorConfig {
  /** Where it came from (file path, or a label for in-memory text). */
  source: string;
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  pipelines: PipelineConfig[];
  logLevel: Level;
  telemetry: TelemetryConfig;
  /** Things worth telling the user that do not stop the collector (unused components). */
  warnings: string[];
}

export interface TelemetryConfig {
  /** host:port of the Prometheus endpoint (/metrics, /healthz); '' = off. */
  metricsAddress: string;
  /** Milliseconds between periodic summary log lines; 0 = off. */
  summaryIntervalMs: number;
}

const SECTIONS: Record<'receivers' | 'processors' | 'exporters', ComponentKind> = {
  receivers: 'receiver',
  processors: 'processor',
  exporters: 'exporter',
};
const TOP_LEVEL_KEYS = ['receivers', 'processors', 'exporters', 'service'];
const UNSUPPORTED_TOP_LEVEL: Record<string, string> = {
  extensions: 'extensions are not supported by tcpsniff-collector',
  connectors: 'connectors are not supported by tcpsniff-collector',
};
const LOG_LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];
const ID_PATTERN = /^([A-Za-z][A-Za-z0-9_]*)(?:\/([^\s/][^\s]*))?$/;

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping => typeof v === 'object' && v !== null && !Array.isArray(v);

export function loadConfigFile(file: string, registry: Registry, env: Env = process.env): CollectorConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new ConfigError('', `cannot read config file ${file}: ${why}`);
  }
  return loadConfigText(text, file, registry, env);
}

/** Parses YAML text; `source` names it in messages (a file path, usually). */
export function loadConfigText(text: string, source: string, registry: Registry, env: Env = process.env): CollectorConfig {
  const raw = parseYamlText(text, source);
  const tree = substituteEnv(raw, env);
  return buildConfig(tree, source, registry);
}

function parseYamlText(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  // uniqueKeys (the default) makes a duplicated key a syntax error, as the Collector does.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const err = doc.errors[0];
  if (err) {
    const pos = lineCounter.linePos(err.pos[0]);
    const where = `${path.relative(process.cwd(), source) || source}:${pos.line}:${pos.col}`;
    const first = firstLine(err instanceof YAMLParseError ? err.message : String(err));
    throw new ConfigError('', `${where}: YAML syntax error: ${first}`);
  }
  return doc.toJS({ maxAliasCount: 100 });
}

const firstLine = (s: string) => s.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');

/** Validates a parsed (and env-substituted) tree. Exported for tests. */
export function buildConfig(tree: unknown, source: string, registry: Registry): CollectorConfig {
  if (tree === null || tree === undefined) throw new ConfigError('', `${source} is empty; it needs receivers, processors, exporters and service::pipelines`);
  if (!isMapping(tree))
    throw new ConfigError('', `the top level of ${source} must be a mapping of receivers, processors, exporters and service, got ${show(tree)}`);
  const errors = new ConfigErrorList();
  for (const key of Object.keys(tree)) {
    if (UNSUPPORTED_TOP_LEVEL[key]) errors.add(new ConfigError(key, UNSUPPORTED_TOP_LEVEL[key]!));
    else if (!TOP_LEVEL_KEYS.includes(key)) errors.add(new ConfigError(key, `unknown key; valid keys: ${TOP_LEVEL_KEYS.join(', ')}`));
  }

  const invalid = new Set<string>();
  const receivers = parseComponents(tree, 'receivers', registry, errors, invalid);
  const processors = parseComponents(tree, 'processors', registry, errors, invalid);
  const exporters = parseComponents(tree, 'exporters', registry, errors, invalid);
  const service = errors.check(() => parseService(tree['service']));
  const pipelines = (service && errors.check(() => parsePipelines(service.pipelines, { receivers, processors, exporters, invalid }))) ?? [];
  errors.check(() => checkJoins(pipelines, receivers));
  errors.throwIfAny();

  const warnings: string[] = [];
  for (const [section, map] of [
    ['receivers', receivers],
    ['processors', processors],
    ['exporters', exporters],
  ] as const) {
    for (const id of map.keys()) {
      if (!usedIn(pipelines, section, id)) warnings.push(`${section}::${id}: defined but not used in any pipeline; it will not run`);
    }
  }

  return { source, receivers, processors, exporters, pipelines, logLevel: service!.logLevel, telemetry: service!.telemetry, warnings };
}

function usedIn(pipelines: PipelineConfig[], section: 'receivers' | 'processors' | 'exporters', id: string): boolean {
  return pipelines.some((p) => p[section].includes(id));
}

/** The section's valid components; the IDs of invalid ones go to `invalid` (as `section::id`), their errors to `errors`. */
function parseComponents(
  tree: Mapping,
  section: keyof typeof SECTIONS,
  registry: Registry,
  errors: ConfigErrorList,
  invalid: Set<string>,
): Map<string, ComponentConfig> {
  const kind = SECTIONS[section];
  const out = new Map<string, ComponentConfig>();
  const raw = tree[section];
  if (raw === undefined || raw === null) return out;
  if (!isMapping(raw)) {
    errors.add(new ConfigError(section, `expected a mapping of component IDs (type[/name]) to their settings, got ${show(raw)}`));
    return out;
  }
  for (const [id, body] of Object.entries(raw)) {
    const p = join(section, id);
    const config = errors.check(() => {
      const m = ID_PATTERN.exec(id);
      if (!m) throw new ConfigError(p, `invalid component ID; expected type[/name], e.g. ${exampleId(kind)}`);
      const factory = registry.get(kind, m[1]!);
      if (!factory) {
        throw new ConfigError(p, `unknown ${kind} type ${JSON.stringify(m[1])}; valid ${kind} types: ${registry.typeNames(kind).join(', ') || '(none)'}`);
      }
      if (m[2] === undefined && id.includes('/')) throw new ConfigError(p, 'invalid component ID: the name after "/" must not be empty');
      return { id, kind, type: factory.type, factory, config: factory.parseConfig(body, p) };
    });
    if (config === undefined) invalid.add(p);
    else out.set(id, config);
  }
  return out;
}

const exampleId = (kind: ComponentKind) => (kind === 'receiver' ? 'tcp or tcp/egress' : kind === 'processor' ? 'batch or batch/small' : 'otlp or otlp/jaeger');

interface ServiceSection {
  pipelines: unknown;
  logLevel: Level;
  telemetry: TelemetryConfig;
}

const LOGS_SPEC: SectionSpec = {
  level: { type: 'string', default: 'info', doc: 'debug, info, warn or error' },
  summary_interval: { type: 'duration', default: 0, doc: 'log a summary line (deltas, drops, queues, memory) this often; 0 = only at exit' },
};
const METRICS_SPEC: SectionSpec = {
  address: { type: 'string', default: '', doc: 'host:port for the Prometheus endpoint (/metrics) and /healthz; empty = off' },
};

function parseService(raw: unknown): ServiceSection {
  if (raw === undefined || raw === null)
    throw new ConfigError('service', 'is required; it lists the pipelines (service::pipelines::traces: {receivers, processors, exporters})');
  if (!isMapping(raw)) throw new ConfigError('service', `expected a mapping with pipelines (and optionally telemetry), got ${show(raw)}`);
  expectKeys(raw, 'service', ['pipelines', 'telemetry'], { extensions: 'extensions are not supported by tcpsniff-collector' });
  const telemetry = raw['telemetry'];
  if (telemetry !== undefined && telemetry !== null && !isMapping(telemetry))
    throw new ConfigError('service::telemetry', `expected a mapping, got ${show(telemetry)}`);
  const t = (telemetry ?? {}) as Mapping;
  expectKeys(t, 'service::telemetry', ['logs', 'metrics']);
  const errors = new ConfigErrorList();
  const logs = errors.check(() => {
    const l = parseSection<{ level: string; summary_interval: number }>(t['logs'], 'service::telemetry::logs', LOGS_SPEC);
    const level = l.level.toLowerCase();
    if (!LOG_LEVELS.includes(level as Level))
      throw new ConfigError('service::telemetry::logs::level', `expected one of ${LOG_LEVELS.join(', ')}, got ${show(l.level)}`);
    return { level: level as Level, summaryIntervalMs: l.summary_interval };
  });
  const metrics = errors.check(() => {
    const m = parseSection<{ address: string }>(t['metrics'], 'service::telemetry::metrics', METRICS_SPEC);
    if (m.address) parseListenAddress(m.address, 'service::telemetry::metrics::address');
    return m;
  });
  errors.throwIfAny();
  return { pipelines: raw['pipelines'], logLevel: logs!.level, telemetry: { metricsAddress: metrics!.address, summaryIntervalMs: logs!.summaryIntervalMs } };
}

/** `host:port`, `:port` or `[v6]:port` → where to listen. */
export function parseListenAddress(address: string, p: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]*)):(\d+)$/.exec(address.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(p, `expected host:port, e.g. 0.0.0.0:8888 or 127.0.0.1:8888, got ${show(address)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function expectKeys(m: Mapping, p: string, valid: string[], unsupported: Record<string, string> = {}) {
  eachChecked(Object.keys(m), (key) => {
    if (unsupported[key]) throw new ConfigError(join(p, key), unsupported[key]!);
    if (!valid.includes(key)) throw new ConfigError(join(p, key), `unknown key; valid keys: ${valid.join(', ')}`);
  });
}

interface Defined {
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  /** `section::id` of components defined with an invalid section (already reported). */
  invalid: Set<string>;
}
type Section = 'receivers' | 'processors' | 'exporters';

function parsePipelines(raw: unknown, defined: Defined): PipelineConfig[] {
  const p = 'service::pipelines';
  if (raw === undefined || raw === null)
    throw new ConfigError(p, 'is required; define at least one pipeline, e.g. traces: {receivers: [tcp], processors: [http], exporters: [debug]}');
  if (!isMapping(raw)) throw new ConfigError(p, `expected a mapping of pipeline IDs (traces or traces/<name>) to pipelines, got ${show(raw)}`);
  const ids = Object.keys(raw);
  if (ids.length === 0)
    throw new ConfigError(p, 'no pipelines defined; define at least one, e.g. traces: {receivers: [tcp], processors: [http], exporters: [debug]}');
  return eachChecked(ids, (id) => parsePipeline(id, raw[id], join(p, id), defined));
}

function parsePipeline(id: string, raw: unknown, p: string, defined: Defined): PipelineConfig {
  const m = /^([a-z]+)(?:\/(.+))?$/.exec(id);
  if (!m || m[1] !== 'traces' || (id.includes('/') && !m[2])) {
    const signal = m?.[1];
    const why =
      signal === 'metrics' || signal === 'logs' ? `${signal} pipelines are not supported; tcpsniff-collector produces traces only` : 'invalid pipeline ID';
    throw new ConfigError(p, `${why}; pipeline IDs are traces or traces/<name>`);
  }
  if (!isMapping(raw)) throw new ConfigError(p, `expected a mapping with receivers, processors and exporters, got ${show(raw)}`);
  const errors = new ConfigErrorList();
  errors.check(() => expectKeys(raw, p, ['receivers', 'processors', 'exporters']));
  const receivers = errors.check(() => idList(raw['receivers'], join(p, 'receivers'), 'receivers', defined, true));
  const processors = errors.check(() => idList(raw['processors'], join(p, 'processors'), 'processors', defined, false));
  const exporters = errors.check(() => idList(raw['exporters'], join(p, 'exporters'), 'exporters', defined, true));
  // The order needs each processor's stage: not known for one whose section is invalid.
  if (processors !== undefined && processors.every((id) => defined.processors.has(id)))
    errors.check(() => checkProcessorOrder(processors, join(p, 'processors'), defined.processors));
  errors.throwIfAny();
  return { id, receivers: receivers!, processors: processors!, exporters: exporters! };
}

function idList(raw: unknown, p: string, section: Section, defined: Defined, required: boolean): string[] {
  const what = section.slice(0, -1);
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) {
    if (required) throw new ConfigError(p, `must list at least one ${what}; a pipeline without ${section} does nothing`);
    return [];
  }
  if (!Array.isArray(raw)) throw new ConfigError(p, `expected a list of ${what} IDs, got ${show(raw)}`);
  const seen = new Set<string>();
  const sections: Section[] = ['receivers', 'processors', 'exporters'];
  return eachChecked(raw, (item: unknown, i) => {
    const ip = join(p, i);
    if (typeof item !== 'string') throw new ConfigError(ip, `expected a ${what} ID, got ${show(item)}`);
    if (seen.has(item)) throw new ConfigError(ip, `${item} is listed twice`);
    seen.add(item);
    if (!defined[section].has(item) && !defined.invalid.has(join(section, item))) {
      const elsewhere = sections.find((s) => s !== section && defined[s].has(item));
      const names = [...defined[section].keys()];
      const hint = elsewhere
        ? `; ${item} is defined under ${elsewhere}, not ${section}`
        : names.length
          ? `; defined ${section}: ${names.join(', ')}`
          : `; the top-level ${section} section defines none`;
      throw new ConfigError(ip, `${what} ${JSON.stringify(item)} is not defined${hint}`);
    }
    return item;
  });
}

/**
 * A receiver whose records join another's connections (sendfile → tcp) hands its chunks over
 * with that receiver's: it names a receiver of the right type, listed in the same pipelines.
 */
function checkJoins(pipelines: PipelineConfig[], receivers: Map<string, ComponentConfig>) {
  for (const [id, rc] of receivers) {
    const j = rc.factory.capabilities?.joins?.(rc.config);
    if (!j || !usedIn(pipelines, 'receivers', id)) continue;
    const target = receivers.get(j.receiver);
    const others = [...receivers.values()].filter((r) => r.type === j.type).map((r) => r.id);
    if (!target || target.type !== j.type) {
      const hint = others.length ? `; ${j.type} receivers here: ${others.join(', ')}` : `; define one, e.g. receivers: {${j.type}: {}}`;
      throw new ConfigError(join(join('receivers', id), j.key), `names ${JSON.stringify(j.receiver)}, which is not a ${j.type} receiver of this file${hint}`);
    }
    pipelines.forEach((p) => {
      if (p.receivers.includes(id) && !p.receivers.includes(j.receiver))
        throw new ConfigError(
          join(join('service::pipelines', p.id), 'receivers'),
          `${id} joins the connections of ${j.receiver}: list ${j.receiver} in this pipeline too`,
        );
    });
  }
}

/**
 * Receivers emit captured bytes and exporters take spans; the one processor that turns bytes
 * into spans (stage 'chunks', the http processor) must therefore be present exactly once and
 * come before every span processor.
 */
function checkProcessorOrder(ids: string[], p: string, processors: Map<string, ComponentConfig>) {
  const chunkStage = ids.filter((id) => processors.get(id)!.factory.stage === 'chunks');
  const example = 'e.g. processors: [http, batch]';
  if (chunkStage.length === 0) {
    throw new ConfigError(p, `must include the http processor: receivers capture raw bytes and only http turns them into spans for the exporters (${example})`);
  }
  if (chunkStage.length > 1) {
    throw new ConfigError(
      p,
      `lists ${chunkStage.join(' and ')}, but a pipeline takes exactly one processor that turns bytes into spans; use one per pipeline, or define two pipelines`,
    );
  }
  if (ids[0] !== chunkStage[0]) {
    throw new ConfigError(
      p,
      `${chunkStage[0]} must come first: ${ids[0]} works on spans, which only exist after ${chunkStage[0]} has turned the captured bytes into them (${example})`,
    );
  }
}
