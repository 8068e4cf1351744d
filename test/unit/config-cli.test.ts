// The built CLI, spawned as users run it: `validate` exit codes and messages, `help`,
// `--version`, usage errors. Nothing here loads kernel programs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'dist', 'src', 'cli.js');
const BIN = path.join(ROOT, 'bin', 'tcpsniff-collector');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmpConfig(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-')), 'pipeline.yaml');
  fs.writeFileSync(file, text);
  return file;
}

/** No stack trace: no "    at fn (file:line)" lines, no error class dump. */
function assertNoStack(output: string) {
  assert.doesNotMatch(output, /^\s+at .+[:(]/m, `unexpected stack trace:\n${output}`);
  assert.doesNotMatch(output, /ConfigError|UserError|node:internal/, `unexpected internals:\n${output}`);
}

const VALID = `
receivers:
  tcp:
processors:
  http:
  batch:
exporters:
  debug:
  otlp:
    endpoint: \${env:TEST_OTLP_ENDPOINT:-localhost:4317}
    tls: {insecure: true}
service:
  pipelines:
    traces:
      receivers: [tcp]
      processors: [http, batch]
      exporters: [debug, otlp]
`;

test('validate: a valid file prints OK and the pipelines, exit 0', () => {
  const file = tmpConfig(VALID);
  const r = cli(['validate', '--config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `OK: ${file}: 1 pipeline(s): traces: tcp → http → batch → debug+otlp\n`);
  assert.equal(r.stderr, '');
});

test('validate: the shipped default and example configs are valid', () => {
  for (const f of ['config/default.yaml', 'config/examples/otlp-jaeger.yaml', 'config/examples/file.yaml']) {
    const r = cli(['validate', '-c', path.join(ROOT, f)]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    assert.match(r.stdout, /^OK: /);
  }
  // Without --config, the package's default pipeline.
  const r = cli(['validate']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^OK: .*config\/default\.yaml: 1 pipeline\(s\): traces: tcp\+sendfile → http → trace_links → genai → redaction → batch → debug$/m);
});

test('validate: errors are one line naming the path, exit 2, no stack trace', () => {
  const cases: Array<[string, RegExp]> = [
    [VALID.replace('  batch:', '  batch:\n    send_batch_size: -5'), /processors::batch::send_batch_size: must be at least 1, got -5/],
    [VALID.replace('  debug:', '  debug:\n    colour: true'), /exporters::debug::colour: unknown key; valid keys: verbosity/],
    [
      VALID.replace('  debug:', '  zipkin:').replace('[debug, otlp]', '[zipkin, otlp]'),
      /exporters::zipkin: unknown exporter type "zipkin"; valid exporter types: debug, file, otlp_grpc, otlp_js, otlp \(alias of otlp_grpc\)/,
    ],
    [
      VALID.replace('[debug, otlp]', '[debug, otlp/missing]'),
      /service::pipelines::traces::exporters::1: exporter "otlp\/missing" is not defined; defined exporters: debug, otlp/,
    ],
    [VALID.replace('[http, batch]', '[batch, http]'), /service::pipelines::traces::processors: http must come first/],
    [
      VALID.replace('localhost:4317}', 'localhost:4317}\n    headers: {api-key: "${env:TEST_API_KEY}"}'),
      /exporters::otlp::headers::api-key: environment variable TEST_API_KEY is not set/,
    ],
  ];
  for (const [text, pattern] of cases) {
    const file = tmpConfig(text);
    const r = cli(['validate', '--config', file]);
    assert.equal(r.code, 2, `expected exit 2 for ${pattern}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
    assert.match(lines[0]!, new RegExp(`^tcpsniff-collector: invalid config ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    assert.match(lines[0]!, pattern);
    assertNoStack(r.stderr);
  }
});

test('validate: every error of a file at once, one line each with its path', () => {
  const file = tmpConfig(
    VALID.replace('  tcp:', '  tcp:\n    ports: [8080, 70000]').replace('  http:', '  http:\n    capture_bodys: true').replace('  batch:', '  batch:\n  zstd:'),
  );
  const r = cli(['validate', '--config', file]);
  assert.equal(r.code, 2, r.stdout);
  const prefix = `tcpsniff-collector: invalid config ${file}: `;
  assert.deepEqual(
    r.stderr
      .trimEnd()
      .split('\n')
      .map((l) => (l.startsWith(prefix) ? l.slice(prefix.length).replace(/;.*/, '') : l)),
    [
      'receivers::tcp::ports::1: must be at most 65535, got 70000',
      'processors::http::capture_bodys: unknown key',
      'processors::zstd: unknown processor type "zstd"',
    ],
  );
  assertNoStack(r.stderr);
});

test('validate: env vars are substituted from the environment', () => {
  const file = tmpConfig(VALID.replace('localhost:4317}', 'localhost:4317}\n    headers: {api-key: "${env:TEST_API_KEY}"}'));
  const r = cli(['validate', '--config', file], { TEST_API_KEY: 'k', TEST_OTLP_ENDPOINT: 'nope:99999' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /exporters::otlp::endpoint: port must be between 1 and 65535, got 99999/);
  assert.equal(cli(['validate', '--config', file], { TEST_API_KEY: 'k' }).code, 0);
});

test('validate: YAML syntax errors give file:line:col; a missing file is named', () => {
  const file = tmpConfig('receivers:\n  tcp:\nprocessors: [http\n');
  const r = cli(['validate', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    new RegExp(`^tcpsniff-collector: ${path.relative(process.cwd(), file).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: YAML syntax error: `),
  );
  assertNoStack(r.stderr);

  const missing = cli(['validate', '--config', '/nonexistent/p.yaml']);
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, 'tcpsniff-collector: cannot read config file /nonexistent/p.yaml: no such file\n');
});

test('validate warns about defined but unused components', () => {
  const file = tmpConfig(VALID.replace('  debug:', '  debug:\n  file/spare:\n    path: /tmp/spare.jsonl'));
  const r = cli(['validate', '--config', file]);
  assert.equal(r.code, 0);
  assert.equal(r.stderr, 'warning: exporters::file/spare: defined but not used in any pipeline; it will not run\n');
});

test('running with an invalid config exits 2 with one line, before touching the kernel', () => {
  const file = tmpConfig(VALID.replace('  debug:', '  debug:\n    verbosity: 3'));
  const r = cli(['--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /exporters::debug::verbosity: expected a string, got number 3/);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1);
  assertNoStack(r.stderr);
});

test('--help explains usage, commands, every component type, the file shape and examples', () => {
  const r = cli(['--help']);
  assert.equal(r.code, 0);
  for (const s of [
    'Usage:',
    'validate',
    'help [COMPONENT-TYPE]',
    '--config FILE',
    '--log-level',
    '--version',
    'service:',
    'pipelines:',
    '${env:VAR:-default}',
    'Examples:',
    'config/examples/',
  ]) {
    assert.ok(r.stdout.includes(s), `--help mentions ${s}`);
  }
  for (const type of ['tcp', 'http', 'batch', 'debug', 'file', 'otlp_grpc (alias otlp)']) {
    assert.match(r.stdout, new RegExp(`^ {4}${type.replace(/[()]/g, '\\$&')} +\\S`, 'm'), `--help lists ${type} with a description`);
  }
  assert.equal(cli(['help']).stdout, r.stdout);
  assert.equal(cli(['-h']).stdout, r.stdout);
});

test('help <type> lists the settings with defaults; unknown types exit 2', () => {
  const r = cli(['help', 'otlp']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^otlp_grpc \(exporter; also written otlp\)/);
  assert.match(r.stdout, /^ {2}endpoint {2}\(string, default "localhost:4317"\)$/m);
  assert.match(r.stdout, /^ {2}retry_on_failure\.initial_interval {2}\(duration, default 5s\)$/m);
  assert.match(r.stdout, /^ {2}sending_queue\.queue_size {2}\(integer, min 1, default 1000\)$/m);
  const batch = cli(['help', 'batch']);
  assert.match(batch.stdout, /^ {2}timeout {2}\(duration, default 200ms\)$/m);
  const file = cli(['help', 'file']);
  assert.match(file.stdout, /^ {2}path {2}\(string, required\)$/m);
  for (const type of ['tcp', 'http']) assert.equal(cli(['help', type]).code, 0);
  const sendfile = cli(['help', 'sendfile']);
  assert.equal(sendfile.code, 0);
  assert.match(sendfile.stdout, /^sendfile \(receiver\)/);
  assert.match(sendfile.stdout, /^ {2}tcp_receiver {2}\(string, default "tcp"\)$/m);
  assert.match(sendfile.stdout, /receivers: \[tcp, sendfile\]/, 'how to list it with the tcp receiver');
  assert.match(sendfile.stdout, /exact gaps/, 'what happens without it');
  const bad = cli(['help', 'kafka']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no component type "kafka"; known types: .*otlp_grpc/);
});

test('--version, and usage errors exit 2 with a pointer to --help', () => {
  const v = cli(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^tcpsniff-collector \d+\.\d+\.\d+ \(node v\d+/);
  for (const args of [['--bogus'], ['frobnicate'], ['--config'], ['--log-level', 'loud'], ['validate', 'extra']]) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tcpsniff-collector: .*\(see tcpsniff-collector --help\)\n$/);
    assertNoStack(r.stderr);
  }
});

test('bin/tcpsniff-collector runs the CLI on Node >= 22 when executed, and as `node bin/tcpsniff-collector`', () => {
  fs.accessSync(BIN, fs.constants.X_OK);
  const nodeMajor = (stdout: string) => Number(/\(node v(\d+)\./.exec(stdout)?.[1]);
  // Executed: its shell line starts it on the Node scripts/setup.sh chose, whatever `node` is on PATH.
  const direct = spawnSync(BIN, ['--version'], { encoding: 'utf8' });
  assert.equal(direct.status, 0, direct.stderr);
  assert.match(direct.stdout, /^tcpsniff-collector /);
  assert.ok(nodeMajor(direct.stdout) >= 22, direct.stdout);
  // Given to a node: the same file is JavaScript for it.
  const viaNode = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
  assert.equal(viaNode.status, 0, viaNode.stderr);
  assert.equal(
    viaNode.stdout,
    `tcpsniff-collector ${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version} (node ${process.version})\n`,
  );
});
