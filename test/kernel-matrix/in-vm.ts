// Runs inside a kernel-matrix VM (booted by scripts/kernel-matrix/run.sh): for each backend of
// the tcp receiver, forced in turn, load it (the verifier test), then — if it loaded — capture
// real HTTP exchanges (curl and an io_uring client against a Node server) through the http
// processor, and print one result line per backend: `MATRIX {json}`.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tcpReceiverFactory } from '../../src/receivers/tcp';
import { sendfileReceiverFactory } from '../../src/receivers/sendfile';
import { unixReceiverFactory } from '../../src/receivers/unix';
import { httpProcessorFactory } from '../../src/processors/http';
import { createLogger } from '../../src/core/logger';
import type { ReceiverComponent } from '../../src/core/component';
import type { SpanRecord } from '../../src/core/types';
import { doctor } from '../../src/doctor';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const PORT = 8080;
const SENDFILE_PORT = 8081;
const NGINX_PORT = 8082;
/** TLS: nginx with ssl (OpenSSL's libssl) and Node's https server (its own OpenSSL), curl the client. */
const NGINX_TLS_PORT = 8443;
const NODE_TLS_PORT = 8444;
/** nginx (Debian's, copied into the VM with its libraries) serves SENDFILE_BODY from here with sendfile on. */
const NGINX_ROOT = path.join(os.tmpdir(), 'matrix-www');
const SENDFILE_BODY = 'sendfile body line\n'.repeat(10_000); // ~190 KiB, text
/** A request body the sendfile server reads with splice(2), socket → pipe (as proxies do). */
const UPLOAD_BYTES = 150_000;
const UPLOAD_FILE = path.join(os.tmpdir(), 'splice-upload.bin');
const BACKENDS = ['fentry', 'kprobe', 'syscalls'] as const;

interface Result {
  kernel: string;
  backend: string;
  loaded: boolean;
  reason?: string;
  curl?: { server: number; client: number; ok: boolean };
  io_uring?: { client: number; ok: boolean };
  sendfile?: { spans: number; ok: boolean };
  splice_read?: { lost: number; kernelSide: number; size: unknown; incomplete: unknown; after: number; ok: boolean };
  nginx?: { spans: number; ok: boolean };
  /** nginx seen by a tcp receiver alone (no sendfile receiver): the bodies are exact kernel-side gaps. */
  nginx_gaps?: { spans: number; ok: boolean };
  /** The server's last write after the client closed at [DONE] (its reset arrives inside that send). */
  late_write?: { spans: number; incomplete: unknown; ok: boolean };
  /** Connections the receiver still tracks once every peer ended (a client exited without closing). */
  open_after?: number;
  tls?: { server: number; client: number; ok: boolean };
  records?: number;
  ms: number;
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.error}`);
  return r.stdout;
}

const isLateWrite = (s: SpanRecord) => s.kind === 2 && s.attributes['url.path'] === '/sse-late';

async function runBackend(backend: (typeof BACKENDS)[number]): Promise<Result> {
  const t0 = Date.now();
  const result: Result = { kernel: os.release(), backend, loaded: false, ms: 0 };
  const logger = createLogger(process.env.MATRIX_DEBUG === '1' ? 'debug' : 'warn');
  // Built back to front: each component is created with its next consumer.
  const spans: SpanRecord[] = [];
  const spansAlone: SpanRecord[] = [];
  const http = httpProcessorFactory.create(
    httpProcessorFactory.parseConfig({ capture_bodies: true, max_body_bytes: '1MiB' }, 'http'),
    { id: 'http', logger },
    { consumeSpans: (s) => void spans.push(...s) },
  );
  const httpAlone = httpProcessorFactory.create(
    httpProcessorFactory.parseConfig({ capture_bodies: true, max_body_bytes: '1MiB' }, 'http'),
    { id: 'http', logger },
    { consumeSpans: (s) => void spansAlone.push(...s) },
  );
  const debug = process.env.MATRIX_DEBUG === '1';
  const receiver = tcpReceiverFactory.create(
    tcpReceiverFactory.parseConfig({ ports: [PORT, SENDFILE_PORT, NGINX_PORT, NGINX_TLS_PORT, NODE_TLS_PORT], backend, ring_buffer_bytes: '4MiB' }, 'tcp'),
    { id: 'tcp', logger },
    {
      consumeChunks: (chunks) => {
        if (debug)
          for (const c of chunks)
            console.log(
              `CHUNK ${backend} ${c.kind} pid=${c.pid} ${c.comm} ${c.direction} ${c.conn.role} ${c.conn.localPort}->${c.conn.remotePort} off=${c.offset} len=${c.data.length} lost=${c.lostAfter} ${JSON.stringify(c.data.subarray(0, 24).toString('latin1'))}`,
            );
        http.consumeChunks(chunks);
      },
    },
  );
  // sendfile bodies, joined to the tcp receiver's connections (its chunks go where the tcp receiver's go).
  const files = sendfileReceiverFactory.create(sendfileReceiverFactory.parseConfig({}, 'sendfile'), { id: 'sendfile', logger, joined: receiver }, http);
  // A second tcp receiver without one, on nginx only.
  const alone = tcpReceiverFactory.create(
    tcpReceiverFactory.parseConfig({ ports: [NGINX_PORT], backend, ring_buffer_bytes: '4MiB' }, 'tcp/alone'),
    { id: 'tcp/alone', logger },
    httpAlone,
  );
  await http.start();
  await httpAlone.start();
  const receivers: ReceiverComponent[] = [receiver, files, alone];
  try {
    await receiver.start();
    await Promise.all([files.start(), alone.start()]);
  } catch (e) {
    await Promise.all(receivers.map((r) => r.shutdown()));
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
    // A body the server splices out of the socket, then a GET on the same connection.
    const spliced = sh('curl', [
      '-sS',
      '-H',
      'Expect:',
      '--data-binary',
      `@${UPLOAD_FILE}`,
      `http://127.0.0.1:${SENDFILE_PORT}/upload`,
      '--next',
      `http://127.0.0.1:${SENDFILE_PORT}/c`,
    ]);
    if (spliced !== 'ok' + SENDFILE_BODY) throw new Error('sendfile server answered the upload with something else');
    const fromNginx = sh('curl', ['-sS', `http://127.0.0.1:${NGINX_PORT}/a.txt`, `http://127.0.0.1:${NGINX_PORT}/b.txt`]);
    if (fromNginx !== SENDFILE_BODY + SENDFILE_BODY) throw new Error('nginx answered something else');
    sh(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'sse-done-client.js'), String(PORT), '/sse-late']);
    // The server's last write comes 100 ms after the client left (much later under emulation).
    for (let t0 = Date.now(); !spans.some(isLateWrite) && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 100));
    const tls = (port: number, paths: string[]) => sh('curl', ['-sk', ...paths.map((p) => `https://127.0.0.1:${port}${p}`)]);
    if (tls(NGINX_TLS_PORT, ['/tls/a', '/tls/b']) !== 'tls /tls/a\ntls /tls/b\n') throw new Error('nginx (TLS) answered something else');
    if (tls(NODE_TLS_PORT, ['/tls/c']) !== 'node /tls/c') throw new Error('Node (TLS) answered something else');
  } finally {
    await Promise.all(receivers.map((r) => r.shutdown()));
    await http.shutdown();
    await httpAlone.shutdown();
  }
  const exe = (s: SpanRecord) => String(s.resource.attributes['process.executable.name']);
  const curlPaths = new Set(['/p/100', '/chunked/3']);
  const curlServer = spans.filter((s) => s.kind === 2 && curlPaths.has(String(s.attributes['url.path'])));
  const curlClient = spans.filter((s) => s.kind === 3 && exe(s) === 'curl' && s.attributes['server.port'] === PORT);
  const uring = spans.filter((s) => s.kind === 3 && exe(s) === 'uring-http' && s.attributes['http.response.status_code'] === 200);
  result.curl = { server: curlServer.length, client: curlClient.length, ok: curlServer.length === 2 && curlClient.length === 2 };
  result.io_uring = { client: uring.length, ok: uring.length === 1 };
  const served = (p: string) => spans.filter((s) => s.kind === 2 && exe(s) === 'sendfile-http' && s.attributes['url.path'] === p);
  const sendfile = [...served('/a'), ...served('/b')];
  const whole = (list: SpanRecord[]) => list.filter((s) => s.attributes['http.response.body.content'] === SENDFILE_BODY).length;
  result.sendfile = { spans: sendfile.length, ok: sendfile.length === 2 && whole(sendfile) === 2 };
  // The spliced body is an exact gap (its size known, not an error), and the GET after it parses.
  const [upload] = served('/upload');
  const lost = Number(upload?.attributes['tcpsniff.request.lost_bytes'] ?? 0);
  const kernelSide = Number(upload?.attributes['tcpsniff.request.kernel_side_bytes'] ?? 0);
  const size = upload?.attributes['http.request.body.size'];
  const incomplete = upload?.attributes['tcpsniff.incomplete'];
  const after = whole(served('/c'));
  result.splice_read = {
    lost,
    kernelSide,
    size,
    incomplete,
    after,
    ok: size === UPLOAD_BYTES && incomplete === undefined && lost > 0 && kernelSide === lost && after === 1,
  };
  // nginx's own sendfile path (its chunking, headers written with writev): bodies whole, the file named.
  const nginx = spans.filter((s) => s.kind === 2 && exe(s) === 'nginx' && s.attributes['url.scheme'] !== 'https');
  const fromFile = nginx.filter((s) => s.attributes['tcpsniff.sendfile.response.path'] === path.join(NGINX_ROOT, String(s.attributes['url.path'])));
  result.nginx = { spans: nginx.length, ok: nginx.length === 2 && whole(nginx) === 2 && fromFile.length === 2 };
  const gaps = spansAlone.filter((s) => s.kind === 2 && exe(s) === 'nginx');
  const exactGap = (s: SpanRecord) =>
    s.attributes['http.response.body.size'] === SENDFILE_BODY.length &&
    s.attributes['tcpsniff.response.lost_bytes'] === SENDFILE_BODY.length &&
    s.attributes['tcpsniff.response.kernel_side_bytes'] === SENDFILE_BODY.length &&
    s.attributes['tcpsniff.sendfile.response.path'] === undefined &&
    s.attributes['tcpsniff.incomplete'] === undefined;
  result.nginx_gaps = { spans: gaps.length, ok: gaps.length === 2 && gaps.every(exactGap) };
  const late = spans.filter(isLateWrite);
  const lateIncomplete = late[0]?.attributes['tcpsniff.incomplete'];
  result.late_write = { spans: late.length, incomplete: lateIncomplete, ok: late.length === 1 && lateIncomplete === undefined && late[0]!.status.code !== 2 };
  // TLS plaintext: nginx's and Node's SERVER spans and curl's CLIENT spans, https, exact paths.
  const tlsServer = spans.filter((s) => s.kind === 2 && s.attributes['url.scheme'] === 'https' && /^\/tls\/[abc]$/.test(String(s.attributes['url.path'])));
  const tlsClient = spans.filter(
    (s) => s.kind === 3 && exe(s) === 'curl' && /^https:\/\/127\.0\.0\.1:84\d\d\/tls\/[abc]$/.test(String(s.attributes['url.full'])),
  );
  result.tls = {
    server: tlsServer.length,
    client: tlsClient.length,
    ok: tlsServer.length === 3 && tlsClient.length === 3 && spans.length === new Set(spans.map((x) => x.spanId)).size,
  };
  result.records = Number(receiver.stats()['records'] ?? 0);
  result.ms = Date.now() - t0;
  return result;
}

/** One request over a unix socket, then process.exit() on the answer: the socket is never closed. */
const EXITING_UNIX_CLIENT = `const s = require('net').connect(process.argv[1], () => s.write('GET /exiting HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));
s.on('data', () => process.exit(0));`;

/** The unix receiver: curl --unix-socket and an exiting Node client against a Node server on a unix socket. */
async function runUnix(backend: (typeof BACKENDS)[number]): Promise<Result> {
  const t0 = Date.now();
  const result: Result = { kernel: os.release(), backend: `unix/${backend}`, loaded: false, ms: 0 };
  const sock = path.join(os.tmpdir(), `matrix-${backend}.sock`);
  fs.rmSync(sock, { force: true });
  const server = spawn(process.execPath, ['-e', "require('http').createServer((q, s) => s.end('ok')).listen(process.argv[1])", sock], { stdio: 'ignore' });
  for (let i = 0; i < 200 && spawnSync('curl', ['-s', '--unix-socket', sock, 'http://localhost/']).status !== 0; i++)
    await new Promise((r) => setTimeout(r, 100));
  const logger = createLogger(process.env.MATRIX_DEBUG === '1' ? 'debug' : 'warn');
  const spans: SpanRecord[] = [];
  const http = httpProcessorFactory.create(
    httpProcessorFactory.parseConfig({}, 'http'),
    { id: 'http', logger },
    { consumeSpans: (s) => void spans.push(...s) },
  );
  const receiver = unixReceiverFactory.create(
    unixReceiverFactory.parseConfig({ include: [sock], ring_buffer_bytes: '4MiB', backend }, 'unix'),
    { id: 'unix', logger },
    http,
  );
  await http.start();
  try {
    await receiver.start();
    result.loaded = true;
    sh('curl', ['-sS', '-o', '/dev/null', '--unix-socket', sock, 'http://localhost/over-unix']);
    // A client that exits without close(2): its connection still ends, and so does the server's.
    sh(process.execPath, ['-e', EXITING_UNIX_CLIENT, sock]);
    for (let t0 = Date.now(); Number(receiver.stats()['connections.open']) > 0 && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 100));
    result.open_after = Number(receiver.stats()['connections.open']);
    await receiver.shutdown();
    await http.shutdown();
    const curlRequest = (s: SpanRecord) => s.attributes['url.path'] === '/over-unix' || String(s.attributes['url.full']).endsWith('/over-unix');
    const hits = spans.filter((s) => s.attributes['network.peer.address'] === sock && curlRequest(s));
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
  fs.writeFileSync(UPLOAD_FILE, 'u'.repeat(UPLOAD_BYTES));
  const sendfileServer = spawn(process.env.SENDFILE_HTTP ?? path.join(ROOT, 'sendfile-http'), [String(SENDFILE_PORT), bodyFile], { stdio: 'ignore' });
  const cert = tlsCertificate();
  const nginx = startNginx(cert);
  const nodeTls = spawn(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'node-https.js'), 'server', String(NODE_TLS_PORT), cert.cert, cert.key], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    const up = (port: number, p: string) => spawnSync('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}${p}`]).status === 0;
    const upTls = (port: number) => spawnSync('curl', ['-sk', '-o', '/dev/null', `https://127.0.0.1:${port}/`]).status === 0;
    if (up(PORT, '/p/1') && up(SENDFILE_PORT, '/') && up(NGINX_PORT, '/') && upTls(NGINX_TLS_PORT) && upTls(NODE_TLS_PORT)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`MATRIX-DOCTOR ${JSON.stringify(doctor().backends)}`);
  const only = process.env.MATRIX_BACKENDS ? process.env.MATRIX_BACKENDS.split(',') : undefined;
  let reported = 0;
  for (const b of BACKENDS) {
    if (only && !only.includes(b)) continue;
    let r: Result;
    try {
      r = await runBackend(b);
    } catch (e) {
      r = { kernel: os.release(), backend: b, loaded: true, reason: `error: ${(e as Error).message}`, ms: 0 };
    }
    console.log(`MATRIX ${JSON.stringify(r)}`);
    reported++;
  }
  for (const b of BACKENDS) {
    if (only && !only.includes(`unix/${b}`)) continue;
    console.log(`MATRIX ${JSON.stringify(await runUnix(b))}`);
    reported++;
  }
  // The runner tells a complete report from one cut short (a VM that hung or died mid-way).
  console.log(`MATRIX-END ${reported}`);
  server.kill('SIGKILL');
  sendfileServer.kill('SIGKILL');
  nginx.kill('SIGTERM'); // its master stops the workers (SIGKILL would leave them listening, on a host)
  nodeTls.kill('SIGKILL');
}

/** A self-signed certificate: made by build-initramfs.sh with the openssl CLI for the VM, else here. */
function tlsCertificate(): { cert: string; key: string } {
  const built = { cert: path.join(ROOT, 'tls', 'cert.pem'), key: path.join(ROOT, 'tls', 'key.pem') };
  if (fs.existsSync(built.cert)) return built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'matrix-tls-'));
  const made = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  sh('openssl', [
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
    '-keyout',
    made.key,
    '-out',
    made.cert,
  ]);
  return made;
}

/** nginx with sendfile on, and with ssl on another port; master and one worker as root (the VM has no other user). */
function startNginx(tls: { cert: string; key: string }) {
  fs.mkdirSync(NGINX_ROOT, { recursive: true });
  for (const name of ['a.txt', 'b.txt']) fs.writeFileSync(path.join(NGINX_ROOT, name), SENDFILE_BODY);
  const conf = path.join(os.tmpdir(), 'matrix-nginx.conf');
  fs.writeFileSync(
    conf,
    `user root; worker_processes 1; daemon off; pid ${os.tmpdir()}/matrix-nginx.pid; error_log ${os.tmpdir()}/matrix-nginx.log;
     events { worker_connections 64; }
     http { access_log off; sendfile on; server { listen 127.0.0.1:${NGINX_PORT}; root ${NGINX_ROOT}; }
       server { listen 127.0.0.1:${NGINX_TLS_PORT} ssl; ssl_certificate ${tls.cert}; ssl_certificate_key ${tls.key}; location / { return 200 "tls $uri\\n"; } } }`,
  );
  return spawn('nginx', ['-c', conf], { stdio: 'ignore' });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`MATRIX-ERROR ${(e as Error).stack}`);
    process.exit(1);
  },
);
