// Bodies sent with sendfile(2) never pass through user memory: the tcp receiver sees them as
// exact kernel-side gaps, the sendfile receiver says which file range they came from (REC_FILE)
// and reads it again. nginx with `sendfile on`, Caddy and Python's socket.sendfile, over
// keep-alive connections; the captured bodies must equal the files, and without the sendfile
// receiver they must be exact gaps. splice(2) bodies (from a pipe) cannot be read again: they
// must be exact, counted gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ROOT,
  SERVER,
  CLIENT,
  freePort,
  parseDrops,
  readSpans,
  run,
  spansOf,
  startServer,
  stop,
  withCollector,
  type CollectorRun,
  type FlatSpan,
} from './harness';
import { httpGet, metricSample, startCli, waitUntil } from './backends';

const FILES: Array<[string, number]> = [
  ['a1k.txt', 1024],
  ['b100k.txt', 100 * 1024],
  ['c5m.txt', 5 * 1024 * 1024],
];

// SERVER spans have url.path, CLIENT spans url.full.
const pathOf = (s: FlatSpan) => String(s.attributes['url.path'] ?? new URL(String(s.attributes['url.full'])).pathname);
const sizeOf = (s: FlatSpan) => FILES.find(([n]) => `/${n}` === pathOf(s))![1];

/** Text files (so the span's body attribute is the bytes themselves), deterministic content. */
function makeFiles(dir: string): Map<string, string> {
  const digests = new Map<string, string>();
  let x = 7;
  for (const [name, size] of FILES) {
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      buf[i] = 97 + (x % 26);
    }
    fs.writeFileSync(path.join(dir, name), buf);
    digests.set(`/${name}`, crypto.createHash('sha256').update(buf).digest('hex'));
  }
  return digests;
}

/**
 * The span says which file the body was sent from, from which offset on (`at`: the bytes before
 * it were written from memory), and that the collector read it again.
 */
function assertFileAttributes(s: FlatSpan, file: string, size: number, server: string, at: number) {
  const attrs = Object.fromEntries(Object.entries(s.attributes).filter(([k]) => k.startsWith('tcpsniff.sendfile.')));
  const RES = 'tcpsniff.sendfile.response.';
  const want = { [RES + 'path']: fs.realpathSync(file), [RES + 'offset']: at, [RES + 'bytes']: size - at, [RES + 'capture']: 'reread' };
  assert.deepEqual(attrs, want, `${server} sendfile attributes of ${file}`);
}

function assertBodies(r: CollectorRun, digests: Map<string, string>, server: string, dir: string, fromFileAt = 0) {
  assert.equal(r.exitCode, 0, r.stderr);
  for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
  const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
  assert.deepEqual(
    servers.map((s) => s.attributes['url.path']),
    [...digests.keys()],
    `${server} SERVER spans`,
  );
  for (const s of servers) {
    const p = String(s.attributes['url.path']);
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['http.response.body.size'], FILES.find(([n]) => `/${n}` === p)![1]);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
    const body = String(s.attributes['http.response.body.content'] ?? '');
    assert.equal(crypto.createHash('sha256').update(body, 'latin1').digest('hex'), digests.get(p), `${server} body of ${p}`);
    assertFileAttributes(s, path.join(dir, p), FILES.find(([n]) => `/${n}` === p)![1], server, fromFileAt);
  }
  // One keep-alive connection: the stream stayed in step across the sendfile bodies.
  assert.equal(new Set(servers.map((s) => s.attributes['network.peer.port'])).size, 1);
  // curl received the bodies with recv(2): nothing about files on its side.
  const clients = spansOf(r.spans, CLIENT);
  assert.equal(clients.length, FILES.length);
  for (const c of clients) assert.ok(!Object.keys(c.attributes).some((k) => k.startsWith('tcpsniff.sendfile.')), `${server} CLIENT span`);
}

const COLLECT = { http: { capture_bodies: true, max_body_bytes: '8MiB' }, sendfile: {} };

/** nginx with `sendfile on` serving `dir` on a free port. */
async function startNginx(dir: string): Promise<{ nginx: ChildProcess; port: number }> {
  fs.chmodSync(dir, 0o755); // nginx's workers run as www-data
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
     events { worker_connections 64; }
     http { access_log off; sendfile on; server { listen 127.0.0.1:${port}; root ${dir}; } }`,
  );
  return { nginx: await startServer('nginx', ['-c', path.join(dir, 'nginx.conf')], '127.0.0.1', port), port };
}

test('nginx with sendfile on: complete bodies over keep-alive (1 KiB, 100 KiB, 5 MiB)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-nginx-'));
  const digests = makeFiles(dir);
  const { nginx, port } = await startNginx(dir);
  try {
    const r = await withCollector({ ports: [port], ...COLLECT }, async () => {
      const urls = [...digests.keys()].map((p) => `http://127.0.0.1:${port}${p}`);
      const out = await run('curl', ['-sS', ...urls.flatMap((u) => ['-o', '/dev/null', u]), '-w', '%{http_code} ']);
      assert.equal(out.trim(), '200 200 200');
    });
    assertBodies(r, digests, 'nginx', dir);
  } finally {
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const fetchAll = (port: number, digests: Map<string, string>) =>
  run('curl', ['-sS', ...[...digests.keys()].flatMap((p) => ['-o', '/dev/null', `http://127.0.0.1:${port}${p}`])]);

/**
 * The pipeline the issue names, through the CLI: it validates, and a collector running it
 * captures nginx's sendfile bodies whole, with the unix receiver beside the two.
 */
test('receivers [tcp, sendfile, unix]: the pipeline validates and captures nginx sendfile bodies whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-nginx3-'));
  const digests = makeFiles(dir);
  const { nginx, port } = await startNginx(dir);
  const out = path.join(dir, 'spans.jsonl');
  const pipeline = `receivers:
  tcp: { ports: [${port}] }
  sendfile:
  unix: { include: ['${dir}/*.sock'] }
processors:
  http: { capture_bodies: true, max_body_bytes: 8MiB }
exporters:
  file: { path: ${out} }
service:
  pipelines:
    traces: { receivers: [tcp, sendfile, unix], processors: [http], exporters: [file] }
`;
  fs.writeFileSync(path.join(dir, 'pipeline.yaml'), pipeline);
  try {
    const validated = await run(process.execPath, [path.join(ROOT, 'bin', 'tcpsniff-collector'), 'validate', '--config', path.join(dir, 'pipeline.yaml')]);
    assert.match(validated, /^OK/m);
    assert.match(validated, /tcp\+sendfile\+unix/);
    const cli = await startCli(pipeline);
    let code: number | null;
    try {
      await fetchAll(port, digests);
    } finally {
      code = await cli.stop();
    }
    const log = cli.output();
    assert.match(log, /receiver\/sendfile.*joining the connections of tcp/);
    assertBodies({ spans: readSpans(out), stderr: log, exitCode: code, drops: parseDrops(log) }, digests, 'nginx', dir);
  } finally {
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Without the sendfile receiver nothing is read again: each body is an exact gap — its size
 * right, lost on the span and marked kernel-side, counted once — and keep-alive stays in step.
 */
test('nginx without the sendfile receiver: sendfile bodies are exact kernel-side gaps, keep-alive in step', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-nginx-gaps-'));
  const digests = makeFiles(dir);
  const { nginx, port } = await startNginx(dir);
  try {
    const r = await withCollector({ ports: [port], http: COLLECT.http }, () => fetchAll(port, digests).then(() => {}));
    assert.equal(r.exitCode, 0, r.stderr);
    const total = FILES.reduce((sum, [, size]) => sum + size, 0);
    for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, reason === 'uncaptured_kernel_side_bytes' ? total : 0, `drops.${reason}\n${r.stderr}`);
    const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
    assert.deepEqual(
      servers.map((s) => s.attributes['url.path']),
      [...digests.keys()],
    );
    for (const s of servers) {
      const size = sizeOf(s);
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.equal(s.attributes['http.response.body.size'], size);
      assert.equal(s.attributes['tcpsniff.response.lost_bytes'], size);
      assert.equal(s.attributes['tcpsniff.response.kernel_side_bytes'], size);
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
      assert.ok(!Object.keys(s.attributes).some((k) => k.startsWith('tcpsniff.sendfile.')), 'no file named: nobody read it');
    }
    assert.equal(new Set(servers.map((s) => s.attributes['network.peer.port'])).size, 1);
    assert.equal(spansOf(r.spans, CLIENT).length, FILES.length);
  } finally {
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A collector run, with its Prometheus endpoint's last scrape. */
interface MeteredRun extends CollectorRun {
  metrics: string;
  /** A counter of the run's last scrape, by metric name (undefined when absent). */
  count(name: string): number | undefined;
}

/**
 * The collector (tcp and sendfile receivers, the http processor with `http`, spans to a file) with
 * its Prometheus endpoint: runs `traffic`, scrapes until `caughtUp` holds for the scrape, stops.
 */
async function withMetrics(
  port: number,
  http: Record<string, unknown>,
  traffic: () => Promise<unknown>,
  caughtUp: (r: MeteredRun) => boolean,
): Promise<MeteredRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-metered-'));
  const out = path.join(dir, 'spans.jsonl');
  const metricsPort = await freePort();
  const cli = await startCli(`receivers:
  tcp: { ports: [${port}] }
  sendfile: {}
processors:
  http: ${JSON.stringify(http)}
exporters:
  file: { path: ${JSON.stringify(out)} }
service:
  telemetry: { metrics: { address: 127.0.0.1:${metricsPort} } }
  pipelines:
    traces: { receivers: [tcp, sendfile], processors: [http], exporters: [file] }
`);
  const run: MeteredRun = { spans: [], stderr: '', exitCode: null, drops: {}, metrics: '', count: (name) => metricSample(run.metrics, name) };
  try {
    await traffic();
    await waitUntil(
      'the collector to catch up with the traffic',
      async () => {
        run.metrics = (await httpGet(`http://127.0.0.1:${metricsPort}/metrics`)).body;
        return caughtUp(run);
      },
      30_000,
    );
  } finally {
    run.exitCode = await cli.stop();
    run.stderr = cli.output();
    run.drops = parseDrops(run.stderr);
    run.spans = readSpans(out);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return run;
}

const REREAD = 'tcpsniff_receiver_sendfile_reread_bytes_total';
const SKIPPED = 'tcpsniff_receiver_sendfile_skipped_bytes_total';
const FROM_FILES = 'tcpsniff_receiver_sendfile_bytes_total';
const EXCHANGES = 'tcpsniff_processor_exchanges_total';

/**
 * Each file fetched twice on one keep-alive connection, bodies not captured: the collector names
 * each body's file range and never reads it (the receiver's counters say so), and the spans are
 * exact — sizes, file attributes, the stream in step — with nothing counted as lost.
 */
async function assertSkippedBodies(server: string, port: number, dir: string, digests: Map<string, string>) {
  const paths = [...digests.keys(), ...digests.keys()];
  const total = 2 * FILES.reduce((sum, [, size]) => sum + size, 0);
  const r = await withMetrics(
    port,
    {},
    () => run('curl', ['-sS', ...paths.flatMap((p) => ['-o', '/dev/null', `http://127.0.0.1:${port}${p}`])]),
    (m) => (m.count(FROM_FILES) ?? 0) >= total && (m.count(EXCHANGES) ?? 0) >= 2 * paths.length,
  );
  assert.equal(r.exitCode, 0, r.stderr);
  for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
  assert.equal(r.count(FROM_FILES), total, `${server}: bytes sent from files\n${r.metrics}`);
  assert.equal(r.count(REREAD), 0, `${server}: no file range was read\n${r.metrics}`);
  assert.equal(r.count(SKIPPED), total, `${server}: every one was skipped`);
  assert.equal(r.count('tcpsniff_processor_skipped_bytes_total'), total, `${server}: the http processor skipped them as body bytes`);
  const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
  assert.deepEqual(
    servers.map((s) => s.attributes['url.path']),
    paths,
    `${server} SERVER spans`,
  );
  const RES = 'tcpsniff.sendfile.response.';
  for (const s of servers) {
    const size = sizeOf(s);
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['http.response.body.size'], size);
    assert.equal(s.attributes['tcpsniff.response.lost_bytes'], undefined, 'skipped, not lost');
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
    const attrs = Object.fromEntries(Object.entries(s.attributes).filter(([k]) => k.startsWith(RES)));
    const file = fs.realpathSync(path.join(dir, pathOf(s)));
    assert.deepEqual(
      attrs,
      { [RES + 'path']: file, [RES + 'offset']: 0, [RES + 'bytes']: size, [RES + 'skipped_bytes']: size, [RES + 'capture']: 'skipped' },
      server,
    );
  }
  assert.equal(new Set(servers.map((s) => s.attributes['network.peer.port'])).size, 1);
  // curl's side: the bodies it received with recv(2), sizes exact.
  const clients = spansOf(r.spans, CLIENT);
  assert.equal(clients.length, paths.length);
  for (const c of clients) assert.equal(c.attributes['http.response.body.size'], sizeOf(c));
}

test('nginx with sendfile on, bodies not captured: each file range is skipped, never read; sizes and file attributes exact over keep-alive', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-nginx-skip-'));
  const digests = makeFiles(dir);
  const { nginx, port } = await startNginx(dir);
  try {
    await assertSkippedBodies('nginx', port, dir, digests);
  } finally {
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Python's socket.sendfile, bodies not captured: each file range is skipped, never read", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-pyskip-'));
  const digests = makeFiles(dir);
  const port = await freePort();
  const server = await startServer('python3', [path.join(ROOT, 'test', 'fixtures', 'file-body-server.py'), 'sendfile', String(port), dir], '127.0.0.1', port);
  try {
    await assertSkippedBodies('python', port, dir, digests);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('chunked bodies sent from files: chunk data alone is skipped unread; a file holding the chunked framing is read to parse it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-chunkfile-'));
  makeFiles(dir);
  // The framed file: 100 chunks of 1,000 bytes, then the last chunk.
  const framed = Buffer.from(`${'3e8\r\n'.concat('f'.repeat(1000), '\r\n').repeat(100)}0\r\n\r\n`);
  fs.writeFileSync(path.join(dir, 'framed.txt'), framed);
  const total = FILES.reduce((sum, [, size]) => sum + size, 0);
  const [chunkedPort, framedPort] = [await freePort(), await freePort()];
  const fixture = path.join(ROOT, 'test', 'fixtures', 'file-body-server.py');
  const chunked = await startServer('python3', [fixture, 'chunked', String(chunkedPort), dir], '127.0.0.1', chunkedPort);
  const whole = await startServer('python3', [fixture, 'framed', String(framedPort), dir], '127.0.0.1', framedPort);
  try {
    const paths = FILES.map(([n]) => `/${n}`);
    const r = await withMetrics(
      chunkedPort,
      {},
      () => run('curl', ['-sS', ...paths.flatMap((p) => ['-o', '/dev/null', `http://127.0.0.1:${chunkedPort}${p}`])]),
      (m) => (m.count(FROM_FILES) ?? 0) >= total && (m.count(EXCHANGES) ?? 0) >= 2 * paths.length,
    );
    for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
    assert.equal(r.count(REREAD), 0, `chunk data is not framing: nothing read\n${r.metrics}`);
    assert.equal(r.count(SKIPPED), total);
    const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
    assert.deepEqual(
      servers.map((s) => [
        pathOf(s),
        s.attributes['http.response.body.size'],
        s.attributes['tcpsniff.incomplete'],
        s.attributes['tcpsniff.sendfile.response.capture'],
      ]),
      FILES.map(([n, size]) => [`/${n}`, size, undefined, 'skipped']),
    );
    const f = await withMetrics(
      framedPort,
      {},
      () =>
        run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${framedPort}/framed.txt`, '-o', '/dev/null', `http://127.0.0.1:${framedPort}/framed.txt`]),
      (m) => (m.count(FROM_FILES) ?? 0) >= 2 * framed.length && (m.count(EXCHANGES) ?? 0) >= 4,
    );
    for (const [reason, n] of Object.entries(f.drops)) assert.equal(n, 0, `drops.${reason}\n${f.stderr}`);
    assert.equal(f.count(REREAD), 2 * framed.length, 'the framing had to be read');
    const framedSpans = spansOf(f.spans, SERVER);
    assert.equal(framedSpans.length, 2);
    for (const s of framedSpans) {
      assert.equal(s.attributes['http.response.body.size'], 100_000, 'decoded from the framing read again');
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
      assert.equal(s.attributes['tcpsniff.sendfile.response.capture'], 'reread');
    }
  } finally {
    await stop(chunked);
    await stop(whole);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The Python server truncates each file right after sending it, before the collector (which
 * reads a range again only when it processes it) can read it. A captured body is then either the
 * file's bytes as sent or an exact gap: never other bytes, sizes and keep-alive intact, the gap
 * counted (sendfile_unread_bytes), what nothing needed after the gap skipped.
 */
test('a file truncated right after sendfile: captured bodies are the bytes sent or exact, counted gaps, never other bytes', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-truncated-'));
  makeFiles(dir);
  const contents = new Map(FILES.map(([n]) => [`/${n}`, fs.readFileSync(path.join(dir, n), 'latin1')]));
  const port = await freePort();
  const server = await startServer('python3', [path.join(ROOT, 'test', 'fixtures', 'file-body-server.py'), 'truncate', String(port), dir], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port], ...COLLECT }, () => fetchAll(port, contents).then(() => {}));
    assert.equal(r.exitCode, 0, r.stderr);
    const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
    assert.deepEqual(servers.map(pathOf), [...contents.keys()]);
    let unread = 0;
    for (const s of servers) {
      const size = sizeOf(s);
      const sent = contents.get(pathOf(s))!;
      const body = String(s.attributes['http.response.body.content'] ?? '');
      const lost = Number(s.attributes['tcpsniff.sendfile.response.unread_bytes'] ?? 0);
      const skipped = Number(s.attributes['tcpsniff.sendfile.response.skipped_bytes'] ?? 0);
      assert.equal(s.attributes['http.response.body.size'], size);
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined, 'framing survived the gap');
      assert.equal(s.attributes['tcpsniff.sendfile.response.bytes'], size);
      assert.equal(body, sent.slice(0, body.length), `${pathOf(s)}: what was captured is what was sent`);
      assert.equal(body.length + lost + skipped, size, `${pathOf(s)}: every byte read, unread or skipped after the gap`);
      assert.equal(Number(s.attributes['tcpsniff.response.lost_bytes'] ?? 0), lost);
      unread += lost;
    }
    assert.equal(r.drops['sendfile_unread_bytes'] ?? 0, unread, r.stderr);
    for (const [reason, n] of Object.entries(r.drops)) if (reason !== 'sendfile_unread_bytes') assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
    assert.equal(new Set(servers.map((s) => s.attributes['network.peer.port'])).size, 1);
    t.diagnostic(
      `bodies read before the truncation: ${servers.filter((s) => s.attributes['tcpsniff.sendfile.response.capture'] === 'reread').length} of ${servers.length}; unread bytes ${unread}`,
    );
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Python's socket.sendfile: complete bodies over keep-alive", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-pysendfile-'));
  const digests = makeFiles(dir);
  const port = await freePort();
  const server = await startServer('python3', [path.join(ROOT, 'test', 'fixtures', 'file-body-server.py'), 'sendfile', String(port), dir], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port], ...COLLECT }, async () => {
      const urls = [...digests.keys()].map((p) => `http://127.0.0.1:${port}${p}`);
      await run('curl', ['-sS', ...urls.flatMap((u) => ['-o', '/dev/null', u])]);
    });
    assertBodies(r, digests, 'python', dir);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Caddy's file server (Go: net/http ServeContent, sendfile from the runtime's non-blocking sockets): complete bodies over keep-alive", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-caddy-'));
  const digests = makeFiles(dir);
  const port = await freePort();
  const caddy = await startServer('caddy', ['file-server', '--root', dir, '--listen', `127.0.0.1:${port}`], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port], ...COLLECT }, async () => {
      const urls = [...digests.keys()].map((p) => `http://127.0.0.1:${port}${p}`);
      await run('curl', ['-sS', ...urls.flatMap((u) => ['-o', '/dev/null', u])]);
    });
    // Go's net/http copies the first 512 bytes through memory (content sniffing), then sendfile.
    assertBodies(r, digests, 'caddy', dir, 512);
  } finally {
    await stop(caddy);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Bodies the Python server moves kernel-side (`mode` of file-body-server.py) cannot be read
 * again: they must be exact gaps — sizes right, lost bytes on the spans and counted, keep-alive
 * in step — while curl, which reads them with read(2), captures them whole.
 */
async function assertKernelSideBodies(mode: 'splice' | 'vmsplice') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tcpsniff-${mode}-`));
  const file = path.join(dir, 'body.txt');
  fs.writeFileSync(file, 'spliced line\n'.repeat(8000)); // 104,000 bytes
  const size = fs.statSync(file).size;
  const port = await freePort();
  const server = await startServer('python3', [path.join(ROOT, 'test', 'fixtures', 'file-body-server.py'), mode, String(port), dir], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port], ...COLLECT }, async () => {
      const out = await run('curl', ['-sS', `http://127.0.0.1:${port}/body.txt?one`, `http://127.0.0.1:${port}/body.txt?two`]);
      assert.equal(out, fs.readFileSync(file, 'latin1').repeat(2));
    });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.drops['uncaptured_kernel_side_bytes'], 2 * size, r.stderr);
    const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
    assert.deepEqual(
      servers.map((s) => s.attributes['url.query']),
      ['one', 'two'],
    );
    for (const s of servers) {
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.equal(s.attributes['http.response.body.size'], size);
      assert.equal(s.attributes['tcpsniff.response.lost_bytes'], size);
      assert.equal(s.attributes['tcpsniff.response.kernel_side_bytes'], size, 'lost by design, not by the collector');
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
    }
    assert.equal(new Set(servers.map((s) => s.attributes['network.peer.port'])).size, 1);
    const clients = spansOf(r.spans, CLIENT);
    assert.equal(clients.length, 2);
    for (const c of clients) assert.equal(String(c.attributes['http.response.body.content']).length, size);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('splice(2) bodies (file → pipe → socket) are exact gaps: sizes right, lost bytes counted, keep-alive in step', () => assertKernelSideBodies('splice'));

test('vmsplice(2) + tee(2) bodies reach the socket through splice: exact gaps, keep-alive in step', () => assertKernelSideBodies('vmsplice'));

interface ProxyRun {
  r: CollectorRun;
  spliced: number;
  /** Bytes curl and nginx exchanged through the proxy (requests and responses, heads and bodies). */
  traffic: number;
}

/**
 * curl fetches the files from nginx (sendfile on) through haproxy in `mode` with splicing on,
 * over one keep-alive connection, under the collector. Checks what holds in every mode: no drop
 * but the spliced bytes, and both ends saw every body whole.
 */
async function throughHaproxy(mode: 'http' | 'tcp'): Promise<ProxyRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-haproxy-'));
  const digests = makeFiles(dir);
  const { nginx, port: backendPort } = await startNginx(dir);
  let haproxy: ChildProcess | undefined;
  try {
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'haproxy.cfg'),
      `global\n  nbthread 1\ndefaults\n  mode ${mode}\n  option splice-response\n  option splice-request\n` +
        `  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n` +
        `frontend fe\n  bind 127.0.0.1:${port}\n  default_backend be\nbackend be\n  server nginx 127.0.0.1:${backendPort}\n`,
    );
    haproxy = await startServer('haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], '127.0.0.1', port);
    let traffic = 0;
    const r = await withCollector({ ports: [port, backendPort], ...COLLECT }, async () => {
      const urls = [...digests.keys()].map((p) => `http://127.0.0.1:${port}${p}`);
      const out = await run('curl', [
        '-sS',
        ...urls.flatMap((u) => ['-o', '/dev/null', u]),
        '-w',
        '%{http_code} %{size_request} %{size_header} %{size_download}\n',
      ]);
      for (const line of out.trim().split('\n')) {
        const [code, ...sizes] = line.split(' ').map(Number);
        assert.equal(code, 200);
        traffic += sizes.reduce((a, b) => a + b, 0);
      }
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const spliced = r.drops['uncaptured_kernel_side_bytes'] ?? 0;
    for (const [reason, n] of Object.entries(r.drops)) {
      // tcp mode: the proxy's exchanges cut by splicing are reported (as truncated), not lost.
      if (reason !== 'uncaptured_kernel_side_bytes' && !(mode === 'tcp' && reason === 'truncated')) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
    }
    // Both ends saw the bodies whole: nginx sent them with sendfile (read again), curl received them.
    const ends = [...spansOf(r.spans, SERVER, 'nginx'), ...spansOf(r.spans, CLIENT, 'curl')];
    assert.equal(ends.length, 2 * FILES.length);
    for (const s of ends) {
      const body = String(s.attributes['http.response.body.content'] ?? '');
      assert.equal(
        crypto.createHash('sha256').update(body, 'latin1').digest('hex'),
        digests.get(pathOf(s)),
        `${s.resource['process.executable.name']} body of ${pathOf(s)}`,
      );
    }
    return { r, spliced, traffic };
  } finally {
    await stop(haproxy);
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * haproxy in HTTP mode reads each response head with recv(2) and moves the body socket → pipe →
 * socket with splice(2). Those bytes never reach user memory on the proxy: they are exact gaps
 * on both of its sockets, counted as uncaptured_kernel_side_bytes, and the proxy's spans keep the
 * right status and sizes. The bodies themselves are on nginx's SERVER and curl's CLIENT spans.
 */
test('haproxy (HTTP mode) splicing between curl and nginx: proxy spans in step, spliced bytes exact gaps, bodies whole at both ends', async (t) => {
  const { r, spliced } = await throughHaproxy('http');
  // splice really happened (the 5 MiB body at least, on both of the proxy's sockets).
  assert.ok(spliced >= 2 * 5 * 1024 * 1024, `spliced ${spliced}\n${r.stderr}`);
  let lost = 0;
  for (const kind of [SERVER, CLIENT]) {
    const proxy = spansOf(r.spans, kind, 'haproxy').sort((a, b) => Number(a.start - b.start));
    assert.deepEqual(
      proxy.map(pathOf),
      FILES.map(([n]) => `/${n}`),
      `haproxy ${kind === SERVER ? 'SERVER' : 'CLIENT'} spans`,
    );
    for (const s of proxy) {
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.equal(s.attributes['http.response.body.size'], sizeOf(s));
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
      const gap = Number(s.attributes['tcpsniff.response.lost_bytes'] ?? 0);
      const kept = String(s.attributes['http.response.body.content'] ?? '').length;
      assert.equal(kept + gap, sizeOf(s), 'every body byte is either captured or an exact gap');
      assert.equal(Number(s.attributes['tcpsniff.response.kernel_side_bytes'] ?? 0), gap, 'the gap is the spliced bytes');
      lost += gap;
    }
    // One keep-alive connection on each side of the proxy.
    assert.equal(new Set(proxy.map((s) => s.attributes['network.peer.port'])).size, 1);
  }
  assert.equal(lost, spliced, 'the gaps on the proxy spans are exactly the spliced bytes');
  t.diagnostic(`spliced by haproxy: ${spliced} bytes (both sockets), all on its spans as lost_bytes`);
});

/**
 * In TCP mode haproxy splices whole streams, heads included (only what it read before switching
 * went through recv/send): its sockets carry almost nothing to parse. Nothing may be made up from
 * that: every proxy span is either exact or marked incomplete, and the spliced bytes plus what
 * was captured account for all the traffic.
 */
test('haproxy (TCP mode) splicing whole streams: all traffic captured or counted as spliced, no proxy span made up', async (t) => {
  const { r, spliced, traffic } = await throughHaproxy('tcp');
  // Each byte crossed the proxy twice (in on one socket, out on the other); at most the first
  // exchange (a request and the 1 KiB response) went through recv/send before splicing started.
  assert.ok(spliced <= 2 * traffic && spliced >= 2 * (traffic - 2048), `spliced ${spliced} of ${2 * traffic}\n${r.stderr}`);
  const proxy = [...spansOf(r.spans, SERVER, 'haproxy'), ...spansOf(r.spans, CLIENT, 'haproxy')];
  for (const s of proxy) {
    if (s.attributes['tcpsniff.incomplete'] !== undefined) continue;
    assert.equal(s.attributes['http.response.status_code'], 200, `haproxy span of ${pathOf(s)}`);
    assert.equal(s.attributes['http.response.body.size'], sizeOf(s), `haproxy span of ${pathOf(s)}`);
  }
  t.diagnostic(
    `spliced by haproxy: ${spliced} of ${2 * traffic} bytes; proxy spans: ${proxy.length} (${proxy.filter((s) => s.attributes['tcpsniff.incomplete'] !== undefined).length} incomplete)`,
  );
});
