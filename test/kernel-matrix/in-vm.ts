// Runs inside a kernel-matrix VM (booted by scripts/kernel-matrix/run.sh): for each backend of
// the tcp receiver, forced in turn, load it (the verifier test), then — if it loaded — capture
// real HTTP exchanges (curl and an io_uring client against a Node server) through the http
// processor, and print one result line per backend: `MATRIX {json}`.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tcpReceiverFactory } from '../../src/receivers/tcp';
import { unixReceiverFactory } from '../../src/receivers/unix';
import { httpProcessorFactory } from '../../src/processors/http';
import { createLogger } from '../../src/core/logger';
import type { SpanRecord } from '../../src/core/types';
import { doctor } from '../../src/doctor';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PORT = 8080;
const SENDFILE_PORT = 8081;
const SENDFILE_BODY = 'sendfile body line\n'.repeat(10_000); // ~190 KiB, text
const BACKENDS = ['fentry', 'kprobe', 'syscalls'] as const;

interface Result {
  kernel: string;
  backend: string;
  loaded: boolean;
  reason?: string;
  curl?: { server: number; client: number; ok: boolean };
  io_uring?: { client: number; ok: boolean };
  sendfile?: { spans: number; ok: boolean };
  records?: number;
  ms: number;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

async function runBackend(backend: (typeof BACKENDS)[number]): Promise<Result> {
  const t0 = Date.now();
  const result: Result = { kernel: os.release(), backend, loaded: false, ms: 0 };
  const logger = createLogger(process.env.MATRIX_DEBUG === '1' ? 'debug' : 'warn');
  const receiver = tcpReceiverFactory.create(tcpReceiverFactory.parseConfig({ ports: [PORT, SENDFILE_PORT], backend, ring_buffer_bytes: '4MiB' }, 'tcp'), { id: 'tcp', logger });
  const http = httpProcessorFactory.create(httpProcessorFactory.parseConfig({ capture_bodies: true, max_body_bytes: '1MiB' }, 'http'), { id: 'http', logger });
  const spans: SpanRecord[] = [];
  http.setConsumer({ consumeSpans: (s) => void spans.push(...s) });
  const debug = process.env.MATRIX_DEBUG === '1';
  receiver.setConsumer({
    consumeChunks: (chunks) => {
      if (debug)
        for (const c of chunks)
          console.log(`CHUNK ${backend} ${c.kind} pid=${c.pid} ${c.comm} ${c.direction} ${c.conn.role} ${c.conn.localPort}->${c.conn.remotePort} off=${c.offset} len=${c.data.length} lost=${c.lostAfter} ${JSON.stringify(c.data.subarray(0, 24).toString('latin1'))}`);
      http.consumeChunks(chunks);
    },
  });
  await http.start();
  try {
    await receiver.start();
  } catch (e) {
    result.reason = (e as Error).message.split('\n')[0]!.slice(0, 300);
    if (process.env.MATRIX_DEBUG === '1') console.log(`REASON ${backend}: ${(e as Error).message.slice(-1500)}`);
    result.ms = Date.now() - t0;
    return result;
  }
  result.loaded = true;
  try {
    sh('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${PORT}/p/100`]);
    sh('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${PORT}/chunked/3`]);
    const status = sh(process.env.URING_HTTP ?? path.join(ROOT, 'uring-http'), ['127.0.0.1', String(PORT), '/p/7']).trim();
    if (status !== 'HTTP/1.1 200 OK') throw new Error(`io_uring client: ${status}`);
    // Two bodies sent with sendfile(2) on one keep-alive connection.
    const got = sh('curl', ['-sS', `http://127.0.0.1:${SENDFILE_PORT}/a`, `http://127.0.0.1:${SENDFILE_PORT}/b`]);
    if (got !== SENDFILE_BODY + SENDFILE_BODY) throw new Error('sendfile server answered something else');
  } finally {
    await receiver.shutdown();
    await http.shutdown();
  }
  const exe = (s: SpanRecord) => String(s.resource.attributes['process.executable.name']);
  const curlPaths = new Set(['/p/100', '/chunked/3']);
  const curlServer = spans.filter((s) => s.kind === 2 && curlPaths.has(String(s.attributes['url.path'])));
  const curlClient = spans.filter((s) => s.kind === 3 && exe(s) === 'curl' && s.attributes['server.port'] === PORT);
  const uring = spans.filter((s) => s.kind === 3 && exe(s) === 'uring-http' && s.attributes['http.response.status_code'] === 200);
  result.curl = { server: curlServer.length, client: curlClient.length, ok: curlServer.length === 2 && curlClient.length === 2 };
  result.io_uring = { client: uring.length, ok: uring.length === 1 };
  const sendfile = spans.filter((s) => s.kind === 2 && exe(s) === 'sendfile-http');
  const whole = sendfile.filter((s) => s.attributes['http.response.body.content'] === SENDFILE_BODY);
  result.sendfile = { spans: sendfile.length, ok: sendfile.length === 2 && whole.length === 2 };
  result.records = Number(receiver.stats()['records'] ?? 0);
  result.ms = Date.now() - t0;
  return result;
}

/** The unix receiver: curl --unix-socket against a Node server on a unix socket. */
async function runUnix(backend: (typeof BACKENDS)[number]): Promise<Result> {
  const t0 = Date.now();
  const result: Result = { kernel: os.release(), backend: `unix/${backend}`, loaded: false, ms: 0 };
  const sock = path.join(os.tmpdir(), `matrix-${backend}.sock`);
  fs.rmSync(sock, { force: true });
  const server = spawn(process.execPath, ['-e', "require('http').createServer((q, s) => s.end('ok')).listen(process.argv[1])", sock], { stdio: 'ignore' });
  for (let i = 0; i < 200 && spawnSync('curl', ['-s', '--unix-socket', sock, 'http://localhost/']).status !== 0; i++)
    await new Promise((r) => setTimeout(r, 100));
  const logger = createLogger(process.env.MATRIX_DEBUG === '1' ? 'debug' : 'warn');
  const receiver = unixReceiverFactory.create(unixReceiverFactory.parseConfig({ include: [sock], ring_buffer_bytes: '4MiB', backend }, 'unix'), { id: 'unix', logger });
  const http = httpProcessorFactory.create(httpProcessorFactory.parseConfig({}, 'http'), { id: 'http', logger });
  const spans: SpanRecord[] = [];
  http.setConsumer({ consumeSpans: (s) => void spans.push(...s) });
  receiver.setConsumer(http);
  await http.start();
  try {
    await receiver.start();
    result.loaded = true;
    sh('curl', ['-sS', '-o', '/dev/null', '--unix-socket', sock, 'http://localhost/over-unix']);
    await receiver.shutdown();
    await http.shutdown();
    const hits = spans.filter((s) => s.attributes['network.peer.address'] === sock);
    result.curl = { server: hits.filter((s) => s.kind === 2).length, client: hits.filter((s) => s.kind === 3).length, ok: hits.length === 2 };
  } catch (e) {
    result.reason = (e as Error).message.split('\n')[0]!.slice(0, 300);
  } finally {
    server.kill('SIGKILL');
  }
  result.ms = Date.now() - t0;
  return result;
}

async function main() {
  const server = spawn(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'node-http-server.js'), String(PORT)], { stdio: 'ignore' });
  const bodyFile = path.join(os.tmpdir(), 'sendfile-body.txt');
  fs.writeFileSync(bodyFile, SENDFILE_BODY);
  const sendfileServer = spawn(process.env.SENDFILE_HTTP ?? path.join(ROOT, 'sendfile-http'), [String(SENDFILE_PORT), bodyFile], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = (port: number, p: string) => spawnSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}${p}`]).status === 0;
    if (up(PORT, '/p/1') && up(SENDFILE_PORT, '/')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`MATRIX-DOCTOR ${JSON.stringify(doctor().backends)}`);
  const only = process.env.MATRIX_BACKENDS ? process.env.MATRIX_BACKENDS.split(',') : undefined;
  for (const b of BACKENDS) {
    if (only && !only.includes(b)) continue;
    let r: Result;
    try {
      r = await runBackend(b);
    } catch (e) {
      r = { kernel: os.release(), backend: b, loaded: true, reason: `error: ${(e as Error).message}`, ms: 0 };
    }
    console.log(`MATRIX ${JSON.stringify(r)}`);
  }
  for (const b of BACKENDS) if (!only || only.includes(`unix/${b}`)) console.log(`MATRIX ${JSON.stringify(await runUnix(b))}`);
  server.kill('SIGKILL');
  sendfileServer.kill('SIGKILL');
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`MATRIX-ERROR ${(e as Error).stack}`);
    process.exit(1);
  },
);
