// Harness for the end-to-end tests with real backends: the collector CLI with any pipeline text,
// a real Jaeger v2 (scripts/build-jaeger.sh) and a real OpenTelemetry Collector
// (scripts/build-otelcol.sh), both built once and cached, and Jaeger's HTTP query API.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, freePort } from './harness';

const CLI = path.join(ROOT, 'bin', 'tcpsniff-collector');

export interface RunningCli {
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM, then waits for the exit (SIGKILL after `ms`); returns the exit code. */
  stop(ms?: number): Promise<number | null>;
}

/**
 * Starts the real collector with this pipeline text and waits for `ready`. `wrap` runs it under
 * another program (setpriv, capsh): the command line is `wrap... node cli --config file`.
 */
export async function startCli(configText: string, opts: { wrap?: string[]; readyMs?: number } = {}): Promise<RunningCli> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-e2e-'));
  const config = path.join(dir, 'pipeline.yaml');
  fs.writeFileSync(config, configText);
  const argv = [...(opts.wrap ?? []), process.execPath, CLI, '--config', config];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const t0 = Date.now();
  while (!/\bready\b/.test(out)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`collector exited (${proc.exitCode}) before ready:\n${out}`);
    if (Date.now() - t0 > (opts.readyMs ?? 30_000)) {
      proc.kill('SIGKILL');
      throw new Error(`collector not ready:\n${out}`);
    }
    await sleep(20);
  }
  return {
    proc,
    output: () => out,
    stop: async (ms = 20_000) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

/** The value of one sample of a Prometheus text exposition: metric `name` with (at least) these labels. */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** GET over HTTP/1.1 (node's own client); resolves with status and body. */
export function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${url}: timeout`)));
  });
}

/** Runs a build script (prints progress on stderr, the binary's path last on stdout). */
function build(script: string, what: string): { bin: string } | { skip: string } {
  process.stderr.write(`# ${script}: building or reusing ${what} (the first build takes minutes)\n`);
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', script)], { encoding: 'utf8', timeout: 30 * 60_000, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status === 0) {
    const bin = r.stdout.trim().split('\n').pop()!;
    if (fs.existsSync(bin)) return { bin };
  }
  if (r.status === 3) return { skip: `needs Go to build ${what} (scripts/${script})` };
  return { skip: `could not build ${what} with scripts/${script} (exit ${r.status}${r.error ? `, ${r.error}` : ''}); see its output above` };
}

export const ensureJaeger = () => build('build-jaeger.sh', 'Jaeger v2');
export const ensureOtelcol = () => build('build-otelcol.sh', 'an OpenTelemetry Collector');

export interface Backend {
  /** OTLP/gRPC endpoint host:port. */
  otlp: string;
  output: () => string;
  stop(): Promise<void>;
  kill(): void;
  proc: ChildProcess;
}

async function startBinary(bin: string, args: string[], readyText: RegExp, what: string, tcpPort: number): Promise<Backend> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const t0 = Date.now();
  while (!readyText.test(out) || !(await canConnect(tcpPort))) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) before it was ready:\n${out}`);
    if (Date.now() - t0 > 60_000) {
      proc.kill('SIGKILL');
      throw new Error(`${what} not ready after 60s:\n${out}`);
    }
    await sleep(50);
  }
  return {
    otlp: `127.0.0.1:${tcpPort}`,
    output: () => out,
    proc,
    kill: () => proc.kill('SIGKILL'),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export interface RunningJaeger extends Backend {
  /** Base URL of the query API (http://127.0.0.1:port). */
  query: string;
  /** host:port of its OTLP/HTTP receiver (`otlp` is the OTLP/gRPC one). */
  otlpHttp: string;
}

/** Jaeger v2 all-in-one with in-memory storage, every port of ours free (no 4317/16686 clash). */
export async function startJaeger(bin: string): Promise<RunningJaeger> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jaeger-'));
  const [grpcPort, queryPort, queryGrpcPort, healthPort, metricsPort, httpPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    traces:
      level: none
    logs:
      level: info
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${healthPort}
  jaeger_query:
    # Jaeger would trace its own queries and send them to localhost:4317.
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${queryPort}
    grpc:
      endpoint: 127.0.0.1:${queryGrpcPort}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
      http:
        endpoint: 127.0.0.1:${httpPort}
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  void metricsPort;
  const b = await startBinary(bin, ['--config', config], /Everything is ready/, 'Jaeger', grpcPort);
  await waitUntil('Jaeger query API', async () => (await httpGet(`http://127.0.0.1:${queryPort}/api/services`)).status === 200, 30_000);
  return { ...b, query: `http://127.0.0.1:${queryPort}`, otlpHttp: `127.0.0.1:${httpPort}` };
}

/** A real Collector: OTLP/gRPC in, batch, OTLP/gRPC out to `forwardTo` (the sidecar shape). */
export async function startForwardingCollector(bin: string, forwardTo: string): Promise<Backend> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelcol-fwd-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${port}
processors:
  batch:
    timeout: 100ms
exporters:
  otlp:
    endpoint: ${forwardTo}
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp]
`,
  );
  return startBinary(bin, ['--config', config], /Everything is ready/, 'the OpenTelemetry Collector', port);
}

// --- Jaeger's HTTP query API (the one its UI uses) ---

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; traceID: string; spanID: string }>;
  tags: Array<{ key: string; type: string; value: unknown }>;
  processID: string;
}
export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags: Array<{ key: string; value: unknown }> }>;
}

export async function jaegerServices(query: string): Promise<string[]> {
  const r = await httpGet(`${query}/api/services`);
  return (JSON.parse(r.body) as { data: string[] | null }).data ?? [];
}

export async function jaegerOperations(query: string, service: string): Promise<string[]> {
  const r = await httpGet(`${query}/api/operations?service=${encodeURIComponent(service)}`);
  return ((JSON.parse(r.body) as { data: Array<{ name: string; spanKind: string }> | null }).data ?? []).map((o) => `${o.spanKind} ${o.name}`);
}

export async function jaegerTraces(query: string, service: string): Promise<JaegerTrace[]> {
  const r = await httpGet(`${query}/api/traces?service=${encodeURIComponent(service)}&limit=1000&lookback=1h`);
  return (JSON.parse(r.body) as { data: JaegerTrace[] | null }).data ?? [];
}

export async function jaegerTrace(query: string, traceId: string): Promise<JaegerTrace | undefined> {
  const r = await httpGet(`${query}/api/traces/${traceId}`);
  if (r.status !== 200) return undefined;
  return (JSON.parse(r.body) as { data: JaegerTrace[] }).data[0];
}

export const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;
