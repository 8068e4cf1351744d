import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, ConfigErrors } from '../../src/core/component';
import { loadConfigFile, loadConfigText } from '../../src/config/loader';
import type { OtlpGrpcConfig } from '../../src/exporters/otlp/exporter-config';
import type { BatchProcessorConfig } from '../../src/processors/batch';
import { testRegistry } from './helpers/fakes';
import { builtinRegistry } from '../../src/components';

const registry = testRegistry();

const BASE = `
receivers:
  tcp:
processors:
  http:
  batch:
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [tcp]
      processors: [http, batch]
      exporters: [debug]
`;

function load(text: string, env: Record<string, string> = {}) {
  return loadConfigText(text, 'test.yaml', registry, env);
}

/** Loads and expects a ConfigError whose message matches. */
function rejects(text: string, pattern: RegExp, env: Record<string, string> = {}) {
  assert.throws(
    () => load(text, env),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('a valid file gives fully defaulted component configs', () => {
  const cfg = load(BASE);
  assert.deepEqual(cfg.pipelines, [{ id: 'traces', receivers: ['tcp'], processors: ['http', 'batch'], exporters: ['debug'] }]);
  assert.deepEqual(cfg.processors.get('batch')!.config as BatchProcessorConfig, { send_batch_size: 8192, send_batch_max_size: 0, timeout: 200 });
  assert.deepEqual(cfg.exporters.get('debug')!.config, { verbosity: 'normal' });
  assert.deepEqual(cfg.receivers.get('tcp')!.config, { ports: [] });
  assert.equal(cfg.logLevel, 'info');
  assert.deepEqual(cfg.warnings, []);
});

test('otlp is an alias of otlp_grpc, with Collector defaults', () => {
  const cfg = load(BASE.replace('  debug:', '  otlp/jaeger:\n    tls: {insecure: true}').replace('[debug]', '[otlp/jaeger]'));
  const c = cfg.exporters.get('otlp/jaeger')!;
  assert.equal(c.type, 'otlp_grpc');
  const o = c.config as OtlpGrpcConfig;
  assert.equal(o.endpoint, 'localhost:4317');
  assert.equal(o.tls.insecure, true);
  assert.equal(o.compression, 'gzip');
  assert.deepEqual(o.sending_queue, { enabled: true, num_consumers: 10, queue_size: 1000, sizer: 'requests' });
  assert.deepEqual(o.retry_on_failure, { enabled: true, initial_interval: 5000, max_interval: 30000, max_elapsed_time: 300000 });
});

test('an unknown component type lists the valid ones', () => {
  rejects(
    BASE.replace('  debug:', '  jaeger:').replace('[debug]', '[jaeger]'),
    /^exporters::jaeger: unknown exporter type "jaeger"; valid exporter types: debug, file, otlp_grpc, otlp \(alias of otlp_grpc\)$/,
  );
  rejects(
    BASE.replace('  tcp:', '  udp/x:'),
    /^receivers::udp\/x: unknown receiver type "udp"; valid receiver types: tcp\nservice::pipelines::traces::receivers::0: receiver "tcp" is not defined; the top-level receivers section defines none$/,
  );
});

test('every error of a file at once, each with its path, each once', () => {
  const text =
    BASE.replace('  debug:', '  debug:\n    verbose: true\n  zipkin:')
      .replace('  batch:', '  batch:\n    send_batch_size: -1\n    timeout: soon')
      .replace('      exporters: [debug]', '      exporters: [debug, nope]\n    traces/2: { receivers: [], processors: [http], exporters: [debug] }') +
    'extra: 1\n';
  assert.throws(
    () => load(text),
    (e: unknown) => {
      assert.ok(e instanceof ConfigErrors);
      assert.deepEqual(
        e.errors.map((x) => x.message.replace(/;.*/, '')),
        [
          'extra: unknown key',
          'processors::batch::send_batch_size: must be at least 1, got -1',
          'processors::batch::timeout: expected a duration like "250ms", "5s" or "1m", got "soon"',
          'exporters::debug::verbose: unknown key',
          'exporters::zipkin: unknown exporter type "zipkin"',
          // traces names batch and debug, whose sections are invalid: reported above, not again.
          'service::pipelines::traces::exporters::1: exporter "nope" is not defined',
          'service::pipelines::traces/2::receivers: must list at least one receiver',
        ],
      );
      return true;
    },
  );
});

test('an unknown key names its full path and the valid keys', () => {
  rejects(BASE.replace('  debug:', '  debug:\n    verbose: true'), /^exporters::debug::verbose: unknown key; valid keys: verbosity$/);
  rejects(
    BASE.replace('  debug:', '  otlp:\n    retry_on_failure:\n      max_retries: 3').replace('[debug]', '[otlp]'),
    /^exporters::otlp::retry_on_failure::max_retries: unknown key; valid keys: enabled, initial_interval, max_interval, max_elapsed_time$/,
  );
  rejects(BASE + 'extra: 1\n', /^extra: unknown key; valid keys: receivers, processors, exporters, service$/);
  rejects(BASE.replace('  pipelines:', '  pipelinez: {}\n  pipelines:'), /^service::pipelinez: unknown key; valid keys: pipelines, telemetry$/);
  rejects(BASE.replace('      exporters: [debug]', '      exporters: [debug]\n      connectors: []'), /^service::pipelines::traces::connectors: unknown key/);
});

test('bad values name the path and what was expected', () => {
  rejects(BASE.replace('  http:', '  http:\n    max_body_bytes: -1'), /^processors::http::max_body_bytes: expected a byte size/);
  rejects(BASE.replace('  http:', '  http:\n    max_body_bytes: "64 potatoes"'), /^processors::http::max_body_bytes: expected a byte size like 4096/);
  rejects(BASE.replace('  debug:', '  debug:\n    verbosity: loud'), /^exporters::debug::verbosity: expected one of basic, normal, detailed, got "loud"$/);
  rejects(BASE.replace('  batch:', '  batch:\n    timeout: soon'), /^processors::batch::timeout: expected a duration like "250ms"/);
  rejects(BASE.replace('  batch:', '  batch:\n    send_batch_size: 0'), /^processors::batch::send_batch_size: must be at least 1, got 0$/);
  rejects(
    BASE.replace('  batch:', '  batch:\n    send_batch_size: 100\n    send_batch_max_size: 10'),
    /^processors::batch::send_batch_max_size: must be 0 or at least send_batch_size \(100\), got 10$/,
  );
  rejects(BASE.replace('  tcp:', '  tcp:\n    ports: [80, 70000]'), /^receivers::tcp::ports::1: must be at most 65535, got 70000$/);
  rejects(BASE.replace('  debug:', '  file:\n    flush_interval: 1s').replace('[debug]', '[file]'), /^exporters::file::path: is required$/);
  rejects(
    BASE.replace('  debug:', '  otlp:\n    endpoint: "localhost:99999"').replace('[debug]', '[otlp]'),
    /^exporters::otlp::endpoint: port must be between 1 and 65535/,
  );
  rejects(
    BASE.replace('  debug:', '  otlp:\n    tls: {cert_file: /etc/hostname}').replace('[debug]', '[otlp]'),
    /^exporters::otlp::tls::key_file: cert_file and key_file go together/,
  );
  rejects(
    BASE.replace('  debug:', '  otlp:\n    tls: {ca_file: /nonexistent/ca.pem}').replace('[debug]', '[otlp]'),
    /^exporters::otlp::tls::ca_file: no such file: \/nonexistent\/ca.pem$/,
  );
  rejects(BASE.replace('  debug:', '  otlp:\n    compression: zstd').replace('[debug]', '[otlp]'), /^exporters::otlp::compression: expected one of gzip, none/);
  rejects(
    BASE.replace('  debug:', '  otlp:\n    headers: {Authorization: x}').replace('[debug]', '[otlp]'),
    /^exporters::otlp::headers::Authorization: gRPC metadata keys must be lowercase/,
  );
});

test('invalid component IDs', () => {
  rejects(BASE.replace('  debug:', '  "debug/":').replace('[debug]', '["debug/"]'), /^exporters::debug\/: invalid component ID; expected type\[\/name\]/);
  rejects(BASE.replace('  debug:', '  "9debug":'), /^exporters::9debug: invalid component ID/);
});

test('env substitution: set, default, missing, escaped, typed', () => {
  const withEndpoint = (v: string) =>
    BASE.replace('  debug:', `  otlp:\n    endpoint: "${v}"\n    timeout: \${env:TIMEOUT_MS:-2500}`).replace('[debug]', '[otlp]');
  let cfg = load(withEndpoint('${env:OTLP_HOST}:4317'), { OTLP_HOST: 'collector.local' });
  let o = cfg.exporters.get('otlp')!.config as OtlpGrpcConfig;
  assert.equal(o.endpoint, 'collector.local:4317');
  assert.equal(o.timeout, 2500, 'a whole-value reference reads as a number');

  cfg = load(withEndpoint('${env:OTLP_HOST:-fallback}:4317'), {});
  assert.equal((cfg.exporters.get('otlp')!.config as OtlpGrpcConfig).endpoint, 'fallback:4317');

  cfg = load(withEndpoint('${env:OTLP_HOST:-fallback}:4317'), { OTLP_HOST: 'set', TIMEOUT_MS: '750' });
  o = cfg.exporters.get('otlp')!.config as OtlpGrpcConfig;
  assert.equal(o.endpoint, 'set:4317');
  assert.equal(o.timeout, 750);

  rejects(
    withEndpoint('${env:OTLP_HOST}:4317'),
    /^exporters::otlp::endpoint: environment variable OTLP_HOST is not set \(referenced as \$\{env:OTLP_HOST\}; give a default with \$\{env:OTLP_HOST:-value\}\)$/,
  );
  rejects(withEndpoint('${OTLP_HOST}'), /^exporters::otlp::endpoint: .*not a reference; use \$\{env:NAME\}/);
  rejects(withEndpoint('${file:/etc/x}'), /only the env provider is supported/);
  rejects(withEndpoint('${env:OTLP_HOST'), /^exporters::otlp::endpoint: unclosed "\$\{"/);

  // (a replacer function: a replacement string would treat $$ specially itself)
  const escaped = load(BASE.replace('  debug:', () => '  file:\n    path: "/tmp/$${env:NOT_A_VAR}/x$$y"').replace('[debug]', '[file]'), {});
  assert.equal((escaped.exporters.get('file')!.config as { path: string }).path, '/tmp/${env:NOT_A_VAR}/x$y');

  // Substitution happens before validation, so a substituted bad value is reported too.
  rejects(
    BASE.replace('  debug:', '  debug:\n    verbosity: ${env:V}'),
    /^exporters::debug::verbosity: expected one of basic, normal, detailed, got "chatty"$/,
    { V: 'chatty' },
  );
  // Log level from the environment.
  const lvl = load(BASE.replace('service:', 'service:\n  telemetry:\n    logs:\n      level: ${env:LVL:-warn}'), {});
  assert.equal(lvl.logLevel, 'warn');
});

test('pipelines: undefined components, empty lists, wrong section', () => {
  rejects(
    BASE.replace('exporters: [debug]', 'exporters: [debug, otlp/x]'),
    /^service::pipelines::traces::exporters::1: exporter "otlp\/x" is not defined; defined exporters: debug$/,
  );
  rejects(
    BASE.replace('receivers: [tcp]', 'receivers: [tcp/other]'),
    /^service::pipelines::traces::receivers::0: receiver "tcp\/other" is not defined; defined receivers: tcp$/,
  );
  rejects(BASE.replace('exporters: [debug]', 'exporters: [batch]'), /exporter "batch" is not defined; batch is defined under processors, not exporters$/);
  rejects(BASE.replace('exporters: [debug]', 'exporters: []'), /^service::pipelines::traces::exporters: must list at least one exporter/);
  rejects(BASE.replace('      receivers: [tcp]\n', ''), /^service::pipelines::traces::receivers: must list at least one receiver/);
  rejects(BASE.replace('exporters: [debug]', 'exporters: [debug, debug]'), /^service::pipelines::traces::exporters::1: debug is listed twice$/);
  rejects(
    BASE.replace('    traces:', '    metrics:'),
    /^service::pipelines::metrics: metrics pipelines are not supported; tcpsniff-collector produces traces only/,
  );
  rejects(BASE.replace(/ {2}pipelines:[^]*/, '  pipelines: {}\n'), /^service::pipelines: no pipelines defined/);
  rejects(BASE.replace(/service:[^]*/, ''), /^service: is required/);
});

test('pipelines: exactly one http processor, first', () => {
  rejects(
    BASE.replace('processors: [http, batch]', 'processors: [batch]'),
    /^service::pipelines::traces::processors: must include the http processor: receivers capture raw bytes and only http turns them into spans/,
  );
  rejects(
    BASE.replace('processors: [http, batch]', 'processors: [batch, http]'),
    /^service::pipelines::traces::processors: http must come first: batch works on spans, which only exist after http has turned the captured bytes into them/,
  );
  rejects(
    BASE.replace('  http:', '  http:\n  http/2:').replace('processors: [http, batch]', 'processors: [http, http/2]'),
    /lists http and http\/2, but a pipeline takes exactly one processor that turns bytes into spans/,
  );
});

test('several named pipelines sharing receivers and exporters', () => {
  const cfg = load(
    BASE.replace('  debug:', '  debug:\n  file:\n    path: /tmp/x.jsonl') +
      '    traces/file:\n      receivers: [tcp]\n      processors: [http]\n      exporters: [file, debug]\n',
  );
  assert.deepEqual(
    cfg.pipelines.map((p) => p.id),
    ['traces', 'traces/file'],
  );
});

test('defined but unused components are warnings, not errors', () => {
  const cfg = load(BASE.replace('  debug:', '  debug:\n  file/unused:\n    path: /tmp/x'));
  assert.deepEqual(cfg.warnings, ['exporters::file/unused: defined but not used in any pipeline; it will not run']);
});

test('YAML syntax errors give file:line:col; duplicate keys are errors', () => {
  rejects('receivers:\n  tcp: {\n  x', /^test\.yaml:\d+:\d+: YAML syntax error: /);
  assert.throws(
    () => load('receivers:\n  tcp:\n    ports: [1\n'),
    (e: unknown) => e instanceof ConfigError && /^test\.yaml:4:1: YAML syntax error/.test(e.message),
  );
  rejects(BASE.replace('  debug:', '  debug:\n  debug:'), /^test\.yaml:\d+:\d+: YAML syntax error: Map keys must be unique/);
  rejects('', /test\.yaml is empty/);
  rejects('- a\n- b\n', /top level of test\.yaml must be a mapping/);
});

test('loadConfigFile reads files and reports a missing one clearly', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
  const file = path.join(dir, 'p.yaml');
  fs.writeFileSync(file, BASE);
  assert.equal(loadConfigFile(file, registry, {}).pipelines.length, 1);
  assert.throws(() => loadConfigFile(path.join(dir, 'nope.yaml'), registry, {}), /cannot read config file .*nope\.yaml: no such file/);
});

test('env: a whole-value reference is typed only when it reads back exactly', () => {
  const cfg = load(
    BASE.replace('  debug:', '  otlp:\n    headers: {api-key: "${env:KEY}", retries: "${env:N}"}\n    timeout: ${env:T}').replace('[debug]', '[otlp]'),
    { KEY: '0123', N: '1e3', T: '250' },
  );
  const o = cfg.exporters.get('otlp')!.config as OtlpGrpcConfig;
  assert.deepEqual(o.headers, { 'api-key': '0123', retries: '1e3' });
  assert.equal(o.timeout, 250);
  // Set but empty, without a default, is the empty string (as in a shell).
  rejects(BASE.replace('  debug:', '  file:\n    path: "${env:EMPTY}"').replace('[debug]', '[file]'), /^exporters::file::path: must not be empty$/, {
    EMPTY: '',
  });
});

test('sendfile joins a tcp receiver: it must name one, and every pipeline listing it lists that one too', () => {
  const builtin = builtinRegistry();
  const text = (receivers: string, sendfile = '', pipelineReceivers = '[tcp, sendfile, unix]') => `
receivers:
${receivers}
  sendfile:${sendfile}
  unix:
processors:
  http:
exporters:
  debug:
service:
  pipelines:
    traces: { receivers: ${pipelineReceivers}, processors: [http], exporters: [debug] }
`;
  const ok = loadConfigText(text('  tcp:'), 'test.yaml', builtin);
  assert.deepEqual(ok.pipelines[0]!.receivers, ['tcp', 'sendfile', 'unix']);
  assert.deepEqual(ok.receivers.get('sendfile')!.config, { tcp_receiver: 'tcp', max_reread_bytes: 16 << 20 });
  loadConfigText(text('  tcp/edge:', ' { tcp_receiver: tcp/edge }', '[tcp/edge, sendfile]'), 'test.yaml', builtin);
  const fails = (t: string, pattern: RegExp) =>
    assert.throws(
      () => loadConfigText(t, 'test.yaml', builtin),
      (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
    );
  fails(
    text('  tcp:', '', '[sendfile, unix]'),
    /^service::pipelines::traces::receivers: sendfile joins the connections of tcp: list tcp in this pipeline too$/,
  );
  fails(
    text('  tcp:', ' { tcp_receiver: unix }'),
    /^receivers::sendfile::tcp_receiver: names "unix", which is not a tcp receiver of this file; tcp receivers here: tcp$/,
  );
  fails(
    text('  tcp/edge:', '', '[tcp/edge, sendfile]'),
    /^receivers::sendfile::tcp_receiver: names "tcp", which is not a tcp receiver of this file; tcp receivers here: tcp\/edge$/,
  );
});
