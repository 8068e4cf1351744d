// Integration harness: runs the real collector (the built CLI) with a pipeline that writes
// OTLP/JSON lines to a file, runs real programs against real servers, stops the collector
// with SIGTERM, and returns the exported spans flattened for exact assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'tcpsniff-collector');
/** Python with the test peers of test/requirements.txt (uvicorn, hypercorn, grpcio, requests…), from scripts/setup-test.sh. */
export const PYTHON_PEERS = path.join(ROOT, '.cache', 'pyvenv', 'bin', 'python3');

export type AnyValue = string | number | boolean | AnyValue[] | null;

export interface FlatSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  start: bigint;
  end: bigint;
  status: { code?: number; message?: string };
  attributes: Record<string, AnyValue>;
  resource: Record<string, AnyValue>;
}

export const SERVER = 2;
export const CLIENT = 3;

function anyValue(v: Record<string, unknown>): AnyValue {
  if ('stringValue' in v) return v.stringValue as string;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue as number;
  if ('boolValue' in v) return v.boolValue as boolean;
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return null;
}

function attrs(list: Array<{ key: string; value: Record<string, unknown> }> | undefined): Record<string, AnyValue> {
  const out: Record<string, AnyValue> = {};
  for (const a of list ?? []) out[a.key] = anyValue(a.value);
  return out;
}

/** Reads an OTLP/JSON-lines file (one ExportTraceServiceRequest per line) into flat spans. */
export function readSpans(file: string): FlatSpan[] {
  if (!fs.existsSync(file)) return [];
  const spans: FlatSpan[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    for (const rs of req.resourceSpans ?? []) {
      const resource = attrs(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          spans.push({
            name: s.name,
            kind: s.kind,
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            start: BigInt(s.startTimeUnixNano),
            end: BigInt(s.endTimeUnixNano),
            status: s.status ?? {},
            attributes: attrs(s.attributes),
            resource,
          });
    }
  }
  return spans;
}

export interface CollectorRun {
  spans: FlatSpan[];
  stderr: string;
  exitCode: number | null;
  /** The exit summary's drops, parsed: reason → count. */
  drops: Record<string, number>;
}

export interface CollectorOptions {
  /** tcp receiver ports filter (the tcp receiver is used unless `unix` is given). */
  ports?: number[];
  tcp?: Record<string, unknown>;
  /** Use the unix receiver with these settings instead of the tcp receiver. */
  unix?: Record<string, unknown>;
  /** Add the sendfile receiver (with these settings) to the tcp receiver. */
  sendfile?: Record<string, unknown>;
  http?: Record<string, unknown>;
  /** Span processors after http, in order: [id, section]. */
  processors?: Array<[string, unknown]>;
  /** More exporters besides the file exporter (e.g. debug, whose stdout lands in `stderr`). */
  exporters?: Record<string, unknown>;
  /** Called with the pipeline file's text before the collector starts. */
  onConfig?: (yaml: string) => void;
}

/** A TCP port nobody listens on right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function yamlOf(v: unknown): string {
  return JSON.stringify(v); // JSON is YAML
}

/** Starts the collector, runs `traffic`, stops the collector, returns what it exported. */
export async function withCollector(opts: CollectorOptions, traffic: () => Promise<void>): Promise<CollectorRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-it-'));
  const out = path.join(dir, 'spans.jsonl');
  const config = path.join(dir, 'pipeline.yaml');
  const extraProcs = opts.processors ?? [];
  const extraExps = Object.entries(opts.exporters ?? {});
  const receivers = opts.unix ? ['unix'] : opts.sendfile ? ['tcp', 'sendfile'] : ['tcp'];
  const yaml = [
    'receivers:',
    opts.unix ? `  unix: ${yamlOf(opts.unix)}` : `  tcp: ${yamlOf({ ports: opts.ports ?? [], ...opts.tcp })}`,
    ...(opts.sendfile ? [`  sendfile: ${yamlOf(opts.sendfile)}`] : []),
    'processors:',
    `  http: ${yamlOf(opts.http ?? {})}`,
    ...extraProcs.map(([id, section]) => `  ${id}: ${yamlOf(section ?? {})}`),
    'exporters:',
    `  file: ${yamlOf({ path: out })}`,
    ...extraExps.map(([id, section]) => `  ${id}: ${yamlOf(section ?? {})}`),
    'service:',
    '  pipelines:',
    `    traces: { receivers: [${receivers.join(', ')}], processors: [${['http', ...extraProcs.map(([id]) => id)].join(', ')}], exporters: [${['file', ...extraExps.map(([id]) => id)].join(', ')}] }`,
    '',
  ].join('\n');
  opts.onConfig?.(yaml);
  fs.writeFileSync(config, yaml);
  const child = spawn(process.execPath, [CLI, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stderr += d));
  try {
    await waitFor(
      child,
      () => /\bready\b/.test(stderr),
      30_000,
      () => stderr,
    );
    await traffic();
  } finally {
    child.kill('SIGTERM');
  }
  const exitCode = await exited(child, 20_000);
  const spans = readSpans(out);
  fs.rmSync(dir, { recursive: true, force: true });
  return { spans, stderr, exitCode, drops: parseDrops(stderr) };
}

/** The exit summary's drops in a collector's output: reason → count. */
export function parseDrops(stderr: string): Record<string, number> {
  const m = /drops by reason: (.*)$/m.exec(stderr);
  const drops: Record<string, number> = {};
  for (const [, k, v] of (m?.[1] ?? '').matchAll(/([\w.]+)=(\d+)/g)) drops[k!] = Number(v);
  return drops;
}

function waitFor(child: ChildProcess, ok: () => boolean, ms: number, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const tick = setInterval(() => {
      if (ok()) return done();
      if (child.exitCode !== null) return done(new Error(`collector exited (${child.exitCode}) before ready:\n${output()}`));
      if (Date.now() - t0 > ms) return done(new Error(`collector not ready after ${ms} ms:\n${output()}`));
    }, 20);
    const done = (e?: Error) => {
      clearInterval(tick);
      if (e) reject(e);
      else resolve();
    };
  });
}

function exited(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

/** Runs a program to completion; rejects with its output when it fails. */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    p.on('error', reject);
    // 'close', not 'exit': the output may still be in the pipes when the process exits.
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
    if (input !== undefined) {
      p.stdin!.on('error', () => {}); // a program may exit before reading its input (EPIPE)
      p.stdin!.end(input);
    }
  });
}

/** Starts a long-running server process and waits until it accepts connections. */
export async function startServer(cmd: string, args: string[], host: string, port: number, cwd?: string): Promise<ChildProcess> {
  const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  for (;;) {
    if (p.exitCode !== null) throw new Error(`${cmd} exited early: ${err}`);
    if (await canConnect(host, port)) return p;
    if (Date.now() - t0 > 15_000) {
      p.kill('SIGKILL');
      throw new Error(`${cmd} did not listen on ${host}:${port}: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

/** Spans of one kind and one process name (process.executable.name). */
export const spansOf = (spans: FlatSpan[], kind: number, exe?: string) =>
  spans.filter((s) => s.kind === kind && (exe === undefined || s.resource['process.executable.name'] === exe));

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI. */
export async function certIn(dir: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}
