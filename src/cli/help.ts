// `--help` and `help <component-type>`: what a user needs to write a pipeline file without
// opening the source.

import { stringify } from 'yaml';
import type { ComponentKind } from '../core/component';
import type { FieldSpec, SectionSpec } from '../config/schema';
import type { AnyFactory, Registry } from '../config/registry';

const KINDS: Array<[ComponentKind, string]> = [
  ['receiver', 'receivers'],
  ['processor', 'processors'],
  ['exporter', 'exporters'],
];

export function generalHelp(registry: Registry, defaultConfig: string): string {
  const components = KINDS.map(([kind, title]) => {
    const lines = registry.factories(kind).map((f) => {
      const aliases = registry.aliasesOf(kind, f.type);
      const name = aliases.length ? `${f.type} (alias ${aliases.join(', ')})` : f.type;
      return `    ${name.padEnd(26)} ${f.description}`;
    });
    return `  ${title}:\n${lines.length ? lines.join('\n') : '    (none in this build)'}`;
  }).join('\n');

  return `tcpsniff-collector: turns the TCP traffic the kernel sees (HTTP/1.x, HTTP/2, gRPC) into
OpenTelemetry spans, with no change to the traced applications.

Usage:
  tcpsniff-collector [--config FILE] [--log-level LEVEL]
      Run the pipelines in FILE until SIGINT/SIGTERM, then flush and print a summary
      (a second signal exits at once). Loading kernel programs needs root.
  tcpsniff-collector validate [--config FILE]
      Check FILE (YAML, environment variables, every component's settings, pipelines)
      without loading anything into the kernel. Prints OK and the pipelines; exit 0 when
      valid, 2 when not, with every error of the file, one line each with its path.
  tcpsniff-collector doctor
      What this host allows: kernel, BTF, lockdown, capabilities, which eBPF hook types
      load and attach, and the backend each receiver would use. Exit 1 when no receiver can
      run here. Needs root (or CAP_BPF and CAP_PERFMON) to try the hooks.
  tcpsniff-collector help [COMPONENT-TYPE]
      This text, or every setting of one component type with its default.
  tcpsniff-collector --version

Options:
  -c, --config FILE     pipeline file (default: ${defaultConfig})
  --log-level LEVEL     debug, info, warn or error; overrides service::telemetry::logs::level
  -h, --help            this text
  -V, --version         the version

Component types (\`tcpsniff-collector help TYPE\` lists their settings):
${components}

Pipeline file (the OpenTelemetry Collector's shape; component IDs are type or type/name):
  receivers:
    tcp:                          # {} or nothing = all defaults
  processors:
    http:
    batch:
      timeout: 1s
  exporters:
    debug:
      verbosity: normal
    otlp/jaeger:
      endpoint: \${env:OTLP_ENDPOINT:-localhost:4317}
      tls: { insecure: true }
  service:
    telemetry: { logs: { level: info } }
    pipelines:
      traces:                     # traces or traces/<name>; several may share receivers/exporters
        receivers: [tcp]
        processors: [http, batch] # http first: it turns captured bytes into spans
        exporters: [debug, otlp/jaeger]

  Values may use \${env:VAR} or \${env:VAR:-default}; write $$ for a literal $.
  Durations: 250ms, 5s, 1m. Sizes: 4096, 64KiB, 1MiB.

Examples:
  sudo tcpsniff-collector                              spans on the console, no backend needed
  sudo tcpsniff-collector -c config/examples/otlp-jaeger.yaml
  tcpsniff-collector validate -c my-pipeline.yaml
  tcpsniff-collector help otlp

More: README.md and the config/examples/ directory of the package.
`;
}

/** Settings of one component type: key, type, default and what it does. */
export function componentHelp(registry: Registry, type: string): string | undefined {
  const factories = registry.find(type);
  if (factories.length === 0) return undefined;
  return factories.map((f) => describeFactory(registry, f)).join('\n');
}

function describeFactory(registry: Registry, f: AnyFactory): string {
  const aliases = registry.aliasesOf(f.kind, f.type);
  const section = KINDS.find(([k]) => k === f.kind)![1];
  const head = [
    `${f.type} (${f.kind}${aliases.length ? `; also written ${aliases.join(', ')}` : ''}${f.stage ? `; works on ${f.stage}` : ''})`,
    `  ${f.description}`,
    ...(f.details ? ['', ...f.details.split('\n').map((l) => `  ${l}`)] : []),
    '',
    `In a pipeline file: ${section}: { ${f.type}: {...} } or ${f.type}/<name>; leave out a key to keep its default.`,
    '',
  ];
  const spec = (f as { spec?: SectionSpec }).spec;
  if (spec) {
    const keys = describeSpec(spec, '');
    return [...head, 'Settings:', ...(keys.length ? keys : ['  (none)']), ''].join('\n');
  }
  // Factories that do not publish their spec: show the defaults they produce.
  let defaults: string;
  try {
    defaults = stringify(f.parseConfig(undefined, f.type), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).trimEnd();
  } catch (e) {
    defaults = `(has required settings: ${(e as Error).message})`;
  }
  return [...head, 'Settings with their defaults:', ...defaults.split('\n').map((l) => `  ${l}`), ''].join('\n');
}

function describeSpec(spec: SectionSpec, prefix: string): string[] {
  const out: string[] = [];
  for (const [key, field] of Object.entries(spec)) {
    const name = prefix + key;
    if (field.type === 'object') {
      out.push(`  ${name}:${field.doc ? `  ${field.doc}` : ''}`);
      out.push(...describeSpec(field.fields, `${name}.`));
      continue;
    }
    out.push(`  ${name}  (${typeText(field)}${defaultText(field)})`);
    if (field.doc) out.push(`      ${field.doc}`);
  }
  return out;
}

function typeText(f: FieldSpec): string {
  switch (f.type) {
    case 'string':
      return f.enum ? f.enum.join('|') : 'string';
    case 'int':
    case 'bytes':
      return `${f.type === 'bytes' ? 'size' : 'integer'}${f.min !== undefined ? `, min ${f.min}` : ''}${f.max !== undefined ? `, max ${f.max}` : ''}`;
    case 'duration':
      return 'duration';
    case 'bool':
      return 'true|false';
    case 'list':
      return `list of ${typeText(f.of)}`;
    case 'stringmap':
      return 'mapping of names to strings';
    case 'object':
      return 'mapping';
  }
}

function defaultText(f: FieldSpec): string {
  if ('required' in f && f.required) return ', required';
  if (f.type === 'object') return '';
  const d = f.default;
  if (d === undefined) return '';
  if (f.type === 'duration') return `, default ${formatMs(d as number)}`;
  if (Array.isArray(d)) return `, default [${d.join(', ')}]`;
  if (typeof d === 'object' && d !== null) return Object.keys(d).length ? `, default ${JSON.stringify(d)}` : ', default none';
  if (typeof d === 'string') return d === '' ? ', default none' : `, default ${JSON.stringify(d)}`;
  return `, default ${String(d)}`;
}

const formatMs = (ms: number) => (ms === 0 ? '0' : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
