// TLS capture: the plaintext of real TLS sessions (self-signed certificates made here with the
// openssl CLI), read by uprobes on OpenSSL's libssl and bound to the TCP connection. Servers:
// Python's ssl module and nginx with ssl (HTTP/1.1 and HTTP/2 by ALPN); clients: curl, Python's
// urllib and requests. Every request gives exactly one SERVER and one CLIENT span with the
// exact path and status and url.scheme https; nothing is ever built from the ciphertext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertGrpcEchoCalls } from './h2-expect';
import { ensureCollector, readReceived, startCollector } from '../unit/helpers/otelcol';
import { ROOT, PYTHON_PEERS, certIn, SERVER, CLIENT, freePort, run, spansOf, startServer, stop, withCollector, type CollectorRun } from './harness';

const FIXTURES = path.join(ROOT, 'test', 'fixtures');

interface Want {
  path: string;
  query?: string;
  status: number;
  /** HTTP version the exchange used. */
  version?: string;
}

/** Exactly one SERVER and one CLIENT span per wanted request, https, exact paths and statuses. */
function assertHttps(r: CollectorRun, port: number, want: Want[], serverExe: RegExp, clientExes?: string[]) {
  assert.equal(r.exitCode, 0, r.stderr);
  for (const reason of [
    'tls_ambiguous',
    'tls_unbound',
    'tls_unverified',
    'tls_unbound_bytes',
    'tls_call_table_full',
    'tls_ciphertext_after_binding',
    'copy_failed',
  ])
    assert.equal(r.drops[reason], 0, `drops.${reason}\n${r.stderr}`);
  const key = (path: string, status: number) => `${path} ${status}`;
  const expected = want.map((w) => key(w.path, w.status)).sort();
  const servers = spansOf(r.spans, SERVER);
  const clients = spansOf(r.spans, CLIENT);
  assert.deepEqual(
    servers.map((s) => key(String(s.attributes['url.path']), Number(s.attributes['http.response.status_code']))).sort(),
    expected,
    'SERVER spans',
  );
  const fullOf = (w: Want) => `https://127.0.0.1:${port}${w.path}${w.query ? `?${w.query}` : ''}`;
  assert.deepEqual(
    clients.map((s) => key(String(s.attributes['url.full']), Number(s.attributes['http.response.status_code']))).sort(),
    want.map((w) => key(fullOf(w), w.status)).sort(),
    `CLIENT spans: ${JSON.stringify(clients.map((c) => c.attributes))}`,
  );
  for (const s of servers) {
    assert.equal(s.attributes['url.scheme'], 'https');
    assert.match(String(s.resource['process.executable.name']), serverExe);
    const w = want.find((x) => x.path === s.attributes['url.path'])!;
    if (w.query) assert.equal(s.attributes['url.query'], w.query);
    if (w.version) assert.equal(s.attributes['network.protocol.version'], w.version, `${w.path} version`);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined, JSON.stringify(s.attributes));
  }
  for (const c of clients) assert.equal(c.attributes['tcpsniff.incomplete'], undefined, JSON.stringify(c.attributes));
  if (clientExes) assert.deepEqual(clients.map((c) => String(c.resource['process.executable.name'])).sort(), [...clientExes].sort(), 'client processes');
}

test('curl (HTTP/1.1 keep-alive, --http2) and Python urllib/requests against a Python ssl server', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-'));
  const { cert, key } = await certIn(dir);
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const server = await startServer('python3', [path.join(FIXTURES, 'tls-server.py'), String(port), cert, key], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      assert.equal(await run('curl', ['-sk', '--http1.1', `${base}/curl/a?x=1`, '-o', '/dev/null', `${base}/status/404`]), 'hello /status/404');
      // The server offers no h2 in ALPN: HTTP/1.1 again.
      assert.equal(await run('curl', ['-sk', '--http2', `${base}/curl/h2`]), 'hello /curl/h2');
      await run(PYTHON_PEERS, [path.join(FIXTURES, 'tls-clients.py'), base, '0', '/py/urllib', '/status/201', '/py/requests/1', '/py/requests/2']);
    });
    assertHttps(
      r,
      port,
      [
        { path: '/curl/a', query: 'x=1', status: 200 },
        { path: '/status/404', status: 404 },
        { path: '/curl/h2', status: 200, version: '1.1' },
        { path: '/py/urllib', status: 200 },
        { path: '/status/201', status: 201 },
        { path: '/py/requests/1', status: 200 },
        { path: '/py/requests/2', status: 200 },
      ],
      /^python3/,
    );
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

async function startNginx(dir: string, cert: string, key: string): Promise<{ nginx: ChildProcess; port: number }> {
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
     events { worker_connections 64; }
     http {
       access_log off;
       server {
         listen 127.0.0.1:${port} ssl http2;
         ssl_certificate ${cert}; ssl_certificate_key ${key};
         location = /status/404 { return 404; }
         location / { return 200 "nginx $uri\\n"; }
       }
     }`,
  );
  return { nginx: await startServer('nginx', ['-c', path.join(dir, 'nginx.conf')], '127.0.0.1', port), port };
}

test('curl (HTTP/1.1 and HTTP/2 by ALPN) and Python urllib/requests against nginx with ssl', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-nginx-'));
  const { cert, key } = await certIn(dir);
  const { nginx, port } = await startNginx(dir, cert, key);
  const base = `https://127.0.0.1:${port}`;
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      await run('curl', ['-sk', '--http1.1', `${base}/h1/a`, `${base}/status/404`]);
      const versions = await run('curl', [
        '-sk',
        '--http2',
        '-w',
        '%{http_version} ',
        '-o',
        '/dev/null',
        `${base}/h2/a?q=2`,
        '-o',
        '/dev/null',
        `${base}/h2/b`,
      ]);
      assert.equal(versions, '2 2 ', 'HTTP/2 by ALPN');
      await run(PYTHON_PEERS, [path.join(FIXTURES, 'tls-clients.py'), base, '0', '/py/urllib', '/py/requests']);
    });
    assertHttps(
      r,
      port,
      [
        { path: '/h1/a', status: 200, version: '1.1' },
        { path: '/status/404', status: 404 },
        { path: '/h2/a', query: 'q=2', status: 200, version: '2' },
        { path: '/h2/b', status: 200, version: '2' },
        { path: '/py/urllib', status: 200 },
        { path: '/py/requests', status: 200 },
      ],
      /^nginx/,
    );
  } finally {
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a client started after the collector, with its own copy of libssl, is captured (exec watched, its maps read)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-late-'));
  const { cert, key } = await certIn(dir);
  const lib = path.join(dir, 'lib');
  fs.mkdirSync(lib);
  const system = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64']
    .map((d) => path.join(d, 'libssl.so.3'))
    .find((f) => fs.existsSync(f));
  assert.ok(system, 'libssl.so.3 not found');
  fs.copyFileSync(system, path.join(lib, 'libssl.so.3')); // a file no process maps yet
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const server = await startServer('python3', [path.join(FIXTURES, 'tls-server.py'), String(port), cert, key], '127.0.0.1', port);
  let maps = '';
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      const client = execFile(PYTHON_PEERS, [path.join(FIXTURES, 'tls-clients.py'), base, '2', '/late/urllib', '/late/requests'], {
        env: { ...process.env, LD_LIBRARY_PATH: lib },
      });
      const exited = new Promise<number | null>((resolve) => client.on('exit', resolve));
      await new Promise((res) => setTimeout(res, 1000));
      maps = fs.readFileSync(`/proc/${client.pid}/maps`, 'utf8');
      assert.equal(await exited, 0);
    });
    assert.ok(maps.includes(path.join(lib, 'libssl.so.3')), 'the client runs on the copy');
    assert.match(r.stderr, new RegExp(`tls: capturing OpenSSL in ${path.join(lib, 'libssl.so.3')}`));
    assertHttps(
      r,
      port,
      [
        { path: '/late/urllib', status: 200 },
        { path: '/late/requests', status: 200 },
      ],
      /^python3/,
    );
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Node's https server and client (the node executable's OpenSSL: memory BIO, bound by lengths) with keep-alive, and curl against Node", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-node-'));
  const { cert, key } = await certIn(dir);
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const node = path.join(FIXTURES, 'node-https.js');
  const server = await startServer(process.execPath, [node, 'server', String(port), cert, key], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      // One keep-alive connection (one agent socket): the first request binds the session, the rest use the binding.
      const seen = await run(process.execPath, [node, 'client', base, '0', '/node/1', '/status/404', '/node/3?k=v']);
      assert.equal(seen, '200 node /node/1\n404 node /status/404\n200 node /node/3?k=v\n');
      await run('curl', ['-sk', '--http1.1', `${base}/curl/1`, '-o', '/dev/null', `${base}/curl/2`]);
    });
    assertHttps(
      r,
      port,
      [
        { path: '/node/1', status: 200 },
        { path: '/status/404', status: 404 },
        { path: '/node/3', query: 'k=v', status: 200 },
        { path: '/curl/1', status: 200 },
        { path: '/curl/2', status: 200 },
      ],
      /^node/,
      ['node', 'node', 'node', 'curl', 'curl'],
    );
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Node's http2 secure server (ALPN h2) with curl --http2: one connection, several streams", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-node-h2-'));
  const { cert, key } = await certIn(dir);
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  const server = await startServer(process.execPath, [path.join(FIXTURES, 'node-https.js'), 'h2server', String(port), cert, key], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      const versions = await run('curl', [
        '-sk',
        '--http2',
        '-w',
        '%{http_version} ',
        ...['/h2/1', '/status/404', '/h2/3'].flatMap((p) => ['-o', '/dev/null', base + p]),
      ]);
      assert.equal(versions, '2 2 2 ');
    });
    assertHttps(
      r,
      port,
      [
        { path: '/h2/1', status: 200, version: '2' },
        { path: '/status/404', status: 404, version: '2' },
        { path: '/h2/3', status: 200, version: '2' },
      ],
      /^node/,
      ['curl', 'curl', 'curl'],
    );
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('grpc-js over TLS (Node on both ends): unary and streaming calls, status codes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-grpc-'));
  const { cert, key } = await certIn(dir);
  const port = await freePort();
  const server = await startServer(process.execPath, [path.join(FIXTURES, 'grpc-server.js'), String(port), cert, key], '127.0.0.1', port);
  try {
    let out: Record<string, { code: number; value?: unknown }> = {};
    const r = await withCollector({ ports: [port] }, async () => {
      out = JSON.parse(await run(process.execPath, [path.join(FIXTURES, 'grpc-client.js'), String(port), cert]));
    });
    assertGrpcEchoCalls(r, out, server.pid, (s, where) => {
      assert.equal(s.attributes['server.port'], port, where);
    });
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a server in its own mount namespace with its own copy of libssl (unshare -m, bind-mounted over the system one) is captured', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-ns-'));
  const { cert, key } = await certIn(dir);
  const system = '/usr/lib/x86_64-linux-gnu/libssl.so.3';
  if (!fs.existsSync(system)) return; // another distribution layout: the late-client test covers the copy
  const copy = path.join(dir, 'libssl.so.3');
  fs.copyFileSync(system, copy);
  const port = await freePort();
  const base = `https://127.0.0.1:${port}`;
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      // Started after the collector, in a namespace where the system path is the copy.
      const server = await startServer(
        'unshare',
        [
          '-m',
          '--propagation',
          'private',
          'sh',
          '-c',
          `mount --bind ${copy} ${system} && exec python3 ${path.join(FIXTURES, 'tls-server.py')} ${port} ${cert} ${key}`,
        ],
        '127.0.0.1',
        port,
      );
      try {
        const maps = fs.readFileSync(`/proc/${server.pid}/maps`, 'utf8');
        const ino = String(fs.statSync(copy).ino);
        assert.ok(
          maps.split('\n').some((l) => l.endsWith(system) && l.split(/\s+/)[4] === ino),
          'the server maps the copy at the system path',
        );
        // Give the exec watch's later scans time to find it (the server imported ssl before listening).
        await new Promise((res) => setTimeout(res, 500));
        await run('curl', ['-sk', `${base}/ns/a`, '-o', '/dev/null', `${base}/status/404`]);
      } finally {
        await stop(server);
      }
    });
    assert.match(r.stderr, new RegExp(`tls: capturing OpenSSL in ${system} \\(/proc/\\d+/root${system}\\)`));
    assertHttps(
      r,
      port,
      [
        { path: '/ns/a', status: 200 },
        { path: '/status/404', status: 404 },
      ],
      /^python3/,
      ['curl', 'curl'],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** The Go fixture, built from source into .cache (standard library only, no cgo: Go's own linker);
 * `stripped`: without symbol table and DWARF (-ldflags='-s -w'), as release builds often are. */
async function goTls(name: 'gotls' | 'gotls-stripped'): Promise<string> {
  const src = path.join(FIXTURES, 'go-tls', 'main.go');
  const out = path.join(ROOT, '.cache', 'go-tls', name);
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(src).mtimeMs) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    await new Promise<void>((resolve, reject) =>
      execFile(
        'go',
        ['build', ...(name === 'gotls-stripped' ? ['-ldflags=-s -w'] : []), '-o', out, src],
        { env: { ...process.env, CGO_ENABLED: '0', GOCACHE: path.join(ROOT, '.cache', 'go-build'), GOFLAGS: '-mod=mod' }, timeout: 300_000 },
        (e, _o, stderr) => (e ? reject(new Error(`go build: ${stderr}`)) : resolve()),
      ),
    );
  }
  return out;
}

for (const name of ['gotls', 'gotls-stripped'] as const)
  test(
    `Go's crypto/tls (net/http server and client, HTTP/2 and HTTP/1.1${name === 'gotls-stripped' ? '; stripped: functions found in .gopclntab' : ''}): probes at the RET instructions, the Go processes unharmed`,
    { timeout: 600_000 },
    async () => {
      const gotls = await goTls(name);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-go-'));
      const { cert, key } = await certIn(dir);
      const port = await freePort();
      const pyPort = await freePort();
      const base = `https://127.0.0.1:${port}`;
      const server = await startServer(gotls, ['server', String(port), cert, key], '127.0.0.1', port);
      const py = await startServer('python3', [path.join(FIXTURES, 'tls-server.py'), String(pyPort), cert, key], '127.0.0.1', pyPort);
      try {
        const r = await withCollector({ ports: [port, pyPort] }, async () => {
          assert.equal(await run(gotls, ['client', base, 'h2', '/go/1', '/status/404', '/go/3']), '200 go /go/1\n404 go /status/404\n200 go /go/3\n');
          assert.equal(await run(gotls, ['client', `https://127.0.0.1:${pyPort}`, 'http1.1', '/go/to-python']), '200 hello /go/to-python\n');
          await run('curl', ['-sk', '--http1.1', `${base}/curl/1`]);
        });
        assert.equal(server.exitCode, null, 'the Go server still runs');
        const goSide = { ...r, spans: r.spans.filter((s) => s.attributes['server.port'] === port) };
        assertHttps(
          goSide,
          port,
          [
            { path: '/go/1', status: 200, version: '2' },
            { path: '/status/404', status: 404, version: '2' },
            { path: '/go/3', status: 200, version: '2' },
            { path: '/curl/1', status: 200, version: '1.1' },
          ],
          new RegExp(`^${name}$`),
          [name, name, name, 'curl'],
        );
        const pySide = { ...r, spans: r.spans.filter((s) => s.attributes['server.port'] === pyPort) };
        assertHttps(pySide, pyPort, [{ path: '/go/to-python', status: 200, version: '1.1' }], /^python3/, [name]);
      } finally {
        await stop(server);
        await stop(py);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );

test("the collector's own OTLP export over TLS is never captured: a real Collector with a TLS receiver gets the spans, none of them is the export", async (t) => {
  const collector = ensureCollector();
  if ('skip' in collector) return void t.skip(collector.skip);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-tls-self-'));
  const { cert, key } = await certIn(dir);
  const [otlpPort, port] = [await freePort(), await freePort()];
  const backend = await startCollector(collector.bin, otlpPort, undefined, { cert, key });
  const server = await startServer('python3', [path.join(FIXTURES, 'tls-server.py'), String(port), cert, key], '127.0.0.1', port);
  try {
    // Both ports captured, TLS capture on (the default): the export's connection would show up if the
    // collector traced itself.
    const r = await withCollector({ ports: [port, otlpPort], exporters: { otlp: { endpoint: `127.0.0.1:${otlpPort}`, tls: { ca_file: cert } } } }, async () => {
      for (const p of ['/self/1', '/self/2']) assert.equal(await run('curl', ['-sk', `https://127.0.0.1:${port}${p}`]), `hello ${p}`);
      // Spans go out while the capture runs (no batch processor in this pipeline): wait for them.
      for (let t0 = Date.now(); readReceived(backend.outFile).length < 4 && Date.now() - t0 < 15_000;) await new Promise((res) => setTimeout(res, 100));
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const received = readReceived(backend.outFile).map((x) => x.span['attributes'] as Array<{ key: string; value: Record<string, unknown> }>);
    const paths = received.map((a) => a.find((kv) => kv.key === 'url.path')?.value['stringValue']).filter((x) => x !== undefined);
    assert.ok(paths.includes('/self/1') && paths.includes('/self/2'), `the Collector received the spans over TLS: ${JSON.stringify(paths)}`);
    // The export's CLIENT side is the collector itself: never a span, in the file or at the Collector.
    const fromExport = r.spans.filter((s) => s.kind === CLIENT && s.attributes['server.port'] === otlpPort);
    assert.deepEqual(fromExport, [], "no span of the collector's own export");
    // Its SERVER side is another process, the Collector (a stripped Go binary: found by .gopclntab),
    // whose gRPC server reads through crypto/tls: captured as over plain TCP, when its crypto/tls is
    // hooked in time (not always so on a loaded machine; likely because the exporter connects while
    // the receiver still hooks what runs). Whatever is captured is right.
    const atCollector = r.spans.filter((s) => s.kind === SERVER && s.attributes['server.port'] === otlpPort);
    for (const s of atCollector) {
      assert.equal(s.name, 'opentelemetry.proto.collector.trace.v1.TraceService/Export');
      assert.equal(s.resource['process.executable.name'], 'otelcol-tcpsniff-test');
    }
  } finally {
    await stop(server);
    await backend.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
