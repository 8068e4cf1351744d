// A real OpenTelemetry Collector (OTLP/gRPC receiver → file exporter), built once by
// scripts/build-otelcol.sh, as the independent receiving end of the otlp_grpc exporter tests:
// it decodes our protobuf with the Collector's own generated code and writes what it got as
// OTLP/JSON lines.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** The Collector binary, or why it cannot be had here (the tests then skip with that reason). */
export function ensureCollector(): { bin: string } | { skip: string } {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'build-otelcol.sh')], { encoding: 'utf8', timeout: 20 * 60_000 });
  if (r.status === 0) {
    const bin = r.stdout.trim().split('\n').pop()!;
    if (fs.existsSync(bin)) return { bin };
  }
  if (r.status === 3) return { skip: 'needs Go to build a real OpenTelemetry Collector (scripts/build-otelcol.sh): go is not installed' };
  const tail = `${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim().split('\n').slice(-5).join(' | ');
  return { skip: `could not build a real OpenTelemetry Collector with scripts/build-otelcol.sh (no Go module proxy?): ${tail}` };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface RunningCollector {
  port: number;
  outFile: string;
  proc: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/** `httpPort`: also an OTLP/HTTP receiver there; `tls`: the gRPC receiver speaks TLS with this certificate. */
export async function startCollector(bin: string, port: number, httpPort?: number, tls?: { cert: string; key: string }): Promise<RunningCollector> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otelcol-'));
  const outFile = path.join(dir, 'received.jsonl');
  const config = path.join(dir, 'config.yaml');
  fs.writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${port}${tls ? `\n        tls:\n          cert_file: ${tls.cert}\n          key_file: ${tls.key}` : ''}${httpPort ? `\n      http:\n        endpoint: 127.0.0.1:${httpPort}` : ''}
exporters:
  file:
    path: ${outFile}
    flush_interval: 50ms
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
`,
  );
  const proc = spawn(bin, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`the Collector did not become ready in 30s:\n${output}`)), 30_000);
    const check = setInterval(() => {
      if (/Everything is ready/.test(output)) {
        clearInterval(check);
        clearTimeout(deadline);
        resolve();
      }
    }, 20);
    proc.once('exit', (code) => {
      clearInterval(check);
      clearTimeout(deadline);
      reject(new Error(`the Collector exited (${code}) before it was ready:\n${output}`));
    });
  });
  return {
    port,
    outFile,
    proc,
    log: () => output,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Every span the Collector wrote, with its resource and scope. */
export interface ReceivedSpan {
  resource: unknown;
  scope: unknown;
  span: Record<string, unknown>;
}

export function readReceived(outFile: string): ReceivedSpan[] {
  if (!fs.existsSync(outFile)) return [];
  const out: ReceivedSpan[] = [];
  const lines = fs.readFileSync(outFile, 'utf8').split('\n');
  lines.pop(); // '' after the last newline, or a line the Collector is still writing
  for (const line of lines) {
    if (!line.trim()) continue;
    const req = JSON.parse(line) as {
      resourceSpans: Array<{ resource: unknown; scopeSpans: Array<{ scope: unknown; spans: Array<Record<string, unknown>> }> }>;
    };
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) out.push({ resource: rs.resource, scope: ss.scope, span });
  }
  return out;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
