// Servers under test (the traced programs) and load generators.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromRoot } from '../../src/core/paths';
import { parseGhz, parseH2load, parseH2loadLog, parseWrk, type GhzResult, type H2loadResult, type WrkResult } from './parse';
import { runToEnd, start, stop, waitPort, type Proc } from './procs';

export const SIZES: Record<string, number> = { '0': 0, '1k': 1024, '16k': 16384, '256k': 262144 };

export interface Server {
  kind: 'nginx' | 'node' | 'grpc';
  pid: number;
  port: number;
  /** The path that serves `size` bytes. */
  pathFor(size: string): string;
  /** HTTPS: the server's private libssl (see privateLibssl); clients load it with `env`. */
  tls?: { library: string; env: NodeJS.ProcessEnv };
  stop(): Promise<void>;
}

/**
 * nginx as one process (master_process off: the traced process is the one we measure), settings
 * as Debian ships them where they matter (sendfile on, tcp_nopush on), keep-alive unlimited,
 * an h2c (prior knowledge) listener on port+1. With `tls`, the main listener speaks HTTPS with a
 * self-signed certificate made now (nginx then writes with SSL_write, not sendfile).
 */
export async function startNginx(tmp: string, port: number, cpus: string, tls = false): Promise<Server> {
  const lib = tls ? privateLibssl(tmp) : undefined;
  const root = path.join(tmp, 'www');
  fs.mkdirSync(root, { recursive: true });
  for (const [name, n] of Object.entries(SIZES)) fs.writeFileSync(path.join(root, name), Buffer.alloc(n, 'x'));
  const conf = path.join(tmp, 'nginx.conf');
  const ssl = tls ? ` ssl; ssl_certificate ${selfSignedCert(tmp)}; ssl_certificate_key ${tmp}/key.pem` : '';
  fs.writeFileSync(
    conf,
    `# written by bench/
master_process off;
daemon off;
worker_processes 1;
worker_rlimit_nofile 65536;
pid ${tmp}/nginx.pid;
error_log ${tmp}/nginx-error.log error;
events { worker_connections 20000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  http2_max_requests 100000000;
  default_type application/octet-stream;
  client_body_temp_path ${tmp}/nginx-body;
  proxy_temp_path ${tmp}/nginx-proxy;
  fastcgi_temp_path ${tmp}/nginx-fastcgi;
  uwsgi_temp_path ${tmp}/nginx-uwsgi;
  scgi_temp_path ${tmp}/nginx-scgi;
  server { listen 127.0.0.1:${port}${ssl}; root ${root}; }
  server { listen 127.0.0.1:${port + 1} http2; root ${root}; }
}
`,
  );
  const p = start('nginx', ['-c', conf, '-p', tmp], { cpus, env: lib?.env });
  await waitPort(port).catch((e) => {
    throw new Error(`${(e as Error).message}: ${p.err()}`);
  });
  return { kind: 'nginx', pid: p.pid, port, pathFor: (s) => `/${s}`, tls: lib, stop: async () => void (await stop(p, 'SIGQUIT', 5000)) };
}

/**
 * A copy of the system's libssl.so.3 under another file name (TMP/ssl/libssl-bench.so.3, loaded
 * through a libssl.so.3 symlink on LD_LIBRARY_PATH). On a shared machine, other collectors' TLS
 * capture hooks every file named libssl.so.* that any process maps, and each of their breakpoints
 * costs the benchmark's processes too: under another name the file is hooked only by the tcpsniff
 * arm (`library_paths`). bench/lib/uprobes.ts still checks that nobody else holds uprobes on it.
 */
function privateLibssl(tmp: string): { library: string; env: NodeJS.ProcessEnv } {
  const ldd = spawnSync('ldd', [spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).stdout.trim()], { encoding: 'utf8' });
  const system = /\slibssl\.so\.3 => (\S+)/.exec(ldd.stdout)?.[1];
  if (!system) throw new Error(`nginx does not link libssl.so.3: ${ldd.stdout}${ldd.stderr}`);
  const dir = path.join(tmp, 'ssl');
  fs.mkdirSync(dir, { recursive: true });
  const library = path.join(dir, 'libssl-bench.so.3');
  fs.copyFileSync(system, library);
  fs.symlinkSync('libssl-bench.so.3', path.join(dir, 'libssl.so.3'));
  return { library, env: { ...process.env, LD_LIBRARY_PATH: dir } };
}

/** An EC P-256 certificate for 127.0.0.1, valid for a day: TMP/cert.pem (its key: TMP/key.pem). */
function selfSignedCert(tmp: string): string {
  const cert = path.join(tmp, 'cert.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost'].concat([
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(tmp, 'key.pem'),
      '-out',
      cert,
    ]),
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return cert;
}

/** The Node http server of the integration tests (test/fixtures/node-http-server.js): /p/N. */
export async function startNodeServer(port: number, cpus: string): Promise<Server> {
  const p: Proc = start(process.execPath, [fromRoot('test', 'fixtures', 'node-http-server.js'), String(port), '127.0.0.1'], { cpus });
  await waitPort(port);
  return { kind: 'node', pid: p.pid, port, pathFor: (s) => `/p/${SIZES[s]}`, stop: async () => void (await stop(p, 'SIGTERM', 5000)) };
}

/** The grpc-js server of the integration tests (test/fixtures/grpc-server.js): Echo/Unary echoes. */
export async function startGrpcServer(port: number, cpus: string): Promise<Server> {
  const p: Proc = start(process.execPath, [fromRoot('test', 'fixtures', 'grpc-server.js'), String(port)], { cpus });
  await waitPort(port);
  return { kind: 'grpc', pid: p.pid, port, pathFor: () => '/tcpsniff.test.Echo/Unary', stop: async () => void (await stop(p, 'SIGTERM', 5000)) };
}

/**
 * wrk with a marker per request: "?m=<thread>-<n>" (n counts from 1 per thread), and each
 * thread's last n printed at the end ("MARK t n"), so every issued request can be looked for
 * in the spans.
 */
export const MARKER_LUA = `-- written by bench/: a unique marker per request
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  n = 0
  prefix = wrk.path .. "?m=" .. id .. "-"
end
function request()
  n = n + 1
  return wrk.format(nil, prefix .. n)
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("MARK %d %d\\n", t:get("id"), t:get("n")))
  end
end
`;

export interface WrkOptions {
  port: number;
  path: string;
  connections: number;
  durationS: number;
  close?: boolean;
  /** https:// (wrk's OpenSSL; certificates are not verified). */
  tls?: boolean;
  env?: NodeJS.ProcessEnv;
  tmp: string;
  cpus: string;
}

export async function runWrk(o: WrkOptions): Promise<WrkResult & { raw: string }> {
  const lua = path.join(o.tmp, 'markers.lua');
  fs.writeFileSync(lua, MARKER_LUA);
  const args = ['-t1', `-c${o.connections}`, `-d${o.durationS}s`, '--latency', '-s', lua];
  if (o.close) args.push('-H', 'Connection: close');
  args.push(`${o.tls ? 'https' : 'http'}://127.0.0.1:${o.port}${o.path}`);
  // Thousands of connections need more descriptors than the default soft limit (up to the
  // hard limit: raising that needs CAP_SYS_RESOURCE, which containers often lack).
  const nofile = Math.min(65536, hardNofileLimit());
  const r =
    o.connections > 512
      ? await runToEnd('prlimit', [`--nofile=${nofile}:${nofile}`, 'taskset', '-c', o.cpus, 'wrk', ...args], { timeoutMs: (o.durationS + 60) * 1000 })
      : await runToEnd('wrk', args, { cpus: o.cpus, timeoutMs: (o.durationS + 60) * 1000, env: o.env });
  const res = parseWrk(r.out);
  if (!Number.isFinite(res.requests)) throw new Error(`wrk failed (${r.code}): ${r.out}${r.err}`);
  return { ...res, raw: r.out };
}

/** This process's hard limit on open files (what a child may raise its soft limit to). */
function hardNofileLimit(): number {
  const r = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? n : 65536; // "unlimited"
}

export interface H2loadOptions {
  port: number;
  path: string;
  h1: boolean;
  clients: number;
  streams?: number;
  /** Fixed rate: total requests/s (spread over clients with --rps); closed loop when absent. */
  rate?: number;
  requests?: number;
  durationS?: number;
  tmp: string;
  cpus: string;
}

export async function runH2load(o: H2loadOptions): Promise<H2loadResult & { latenciesUs: number[]; raw: string }> {
  const log = path.join(o.tmp, `h2load-${Date.now()}.log`);
  const args = ['-t1', `-c${o.clients}`, `-m${o.streams ?? 1}`, `--log-file=${log}`];
  if (o.h1) args.push('--h1');
  if (o.rate) args.push(`--rps=${Math.max(1, Math.round(o.rate / o.clients))}`);
  if (o.requests) args.push(`-n${o.requests}`);
  else args.push(`-D${o.durationS ?? 5}`);
  args.push(`http://127.0.0.1:${o.port}${o.path}`);
  const r = await runToEnd('h2load', args, { cpus: o.cpus, timeoutMs: 300_000 });
  const res = parseH2load(r.out);
  if (!Number.isFinite(res.done)) throw new Error(`h2load failed (${r.code}): ${r.out}${r.err}`);
  let latenciesUs: number[] = [];
  try {
    latenciesUs = parseH2loadLog(fs.readFileSync(log, 'utf8'));
    fs.rmSync(log);
  } catch {
    /* no log */
  }
  return { ...res, latenciesUs, raw: r.out };
}

export interface GhzOptions {
  ghz: string;
  port: number;
  /** Request message size in bytes (the server echoes it back). */
  bytes: number;
  /** Calls in flight, spread over `connections` HTTP/2 connections. */
  concurrency: number;
  connections: number;
  /** Fixed rate (calls/s over all workers); closed loop when absent. */
  rate?: number;
  durationS: number;
  tmp: string;
  cpus: string;
}

/** ghz (unary calls of Echo/Unary, bench/fixtures/echo.proto) → counts and latencies. */
export async function runGhz(o: GhzOptions): Promise<GhzResult> {
  const data = JSON.stringify({ text: 'x'.repeat(Math.max(0, o.bytes - 3)) });
  // The JSON report goes to a file: it lists every call, megabytes for a closed-loop run.
  const report = path.join(o.tmp, `ghz-${Date.now()}.json`);
  const args = [
    '--insecure',
    '--proto',
    fromRoot('bench', 'fixtures', 'echo.proto'),
    '--call',
    'tcpsniff.test.Echo.Unary',
    '-d',
    data,
    '-c',
    String(o.concurrency),
    '--connections',
    String(o.connections),
    '-z',
    `${o.durationS}s`,
    '-O',
    'json',
    '-o',
    report,
  ];
  if (o.rate) args.push('--rps', String(o.rate));
  args.push(`127.0.0.1:${o.port}`);
  const r = await runToEnd(o.ghz, args, { cpus: o.cpus, timeoutMs: (o.durationS + 60) * 1000 });
  const out = fs.existsSync(report) ? fs.readFileSync(report, 'utf8') : '';
  fs.rmSync(report, { force: true });
  const res = parseGhz(out);
  if (!Number.isFinite(res.ok)) throw new Error(`ghz failed (${r.code}): ${out.slice(0, 300)}${r.out.slice(0, 300)}${r.err.slice(0, 500)}`);
  return res;
}
