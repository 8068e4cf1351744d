// Debian's nghttp2-client tools (nghttp, h2load) and curl --http2-prior-knowledge against Node's
// h2c server, through the tcp receiver: exact span counts, methods, paths, status, version 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLIENT, ROOT, SERVER, freePort, run, spansOf, startServer, stop, withCollector, type CollectorRun, type FlatSpan } from './harness';

const H2_SERVER = path.join(ROOT, 'test', 'fixtures', 'h2-server.js');

function assertNoDrops(r: CollectorRun) {
  assert.ok(Object.keys(r.drops).length > 0, `the exit summary reports drops by reason:\n${r.stderr}`);
  for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
  assert.equal(r.exitCode, 0, r.stderr);
}
const dump = (spans: FlatSpan[]) => JSON.stringify(spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 1);
const key = (s: FlatSpan) =>
  `${s.attributes['http.request.method']} ${s.attributes['url.path']}${s.attributes['url.query'] ? '?' + s.attributes['url.query'] : ''} ${s.attributes['http.response.status_code']}`;
const count = (keys: string[]) => keys.reduce<Record<string, number>>((m, k) => ((m[k] = (m[k] ?? 0) + 1), m), {});

function assertH2(spans: FlatSpan[], port: number) {
  for (const s of spans) {
    const where = `${s.resource['process.executable.name']} ${s.name} ${s.attributes['url.path'] ?? s.attributes['url.full']}`;
    assert.equal(s.attributes['network.protocol.version'], '2', where);
    assert.equal(s.attributes['server.address'], '127.0.0.1', where);
    assert.equal(s.attributes['server.port'], port, where);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined, where);
    assert.equal(s.attributes['tcpsniff.h2.unknown_headers'], undefined, where);
    assert.ok(s.end >= s.start, where);
  }
}

test('nghttp, h2load and curl --http2-prior-knowledge against a Node h2c server', async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-h2tools-'));
  const body = path.join(dir, 'body.bin');
  fs.writeFileSync(body, Buffer.alloc(30000, 'b'));
  const server = await startServer(process.execPath, [H2_SERVER, String(port)], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      // nghttp: three concurrent GETs on one connection (with its PRIORITY frames), then a POST.
      const v = await run('nghttp', ['-v', `${base}/p/10?a=1`, `${base}/p/3000`, `${base}/missing`]);
      assert.match(v, /:status: 200/);
      assert.match(v, /:status: 404/);
      const post = await run('nghttp', ['-v', '-d', body, `${base}/echo-size`]);
      assert.match(post, /x-size: 30000/);
      // h2load: 50 requests, 2 connections, 5 concurrent streams each.
      const load = await run('h2load', ['-n', '50', '-c', '2', '-m', '5', `${base}/p/7`]);
      assert.match(load, /requests: 50 total, 50 started, 50 done, 50 succeeded, 0 failed, 0 errored/);
      assert.match(load, /status codes: 50 2xx/);
      assert.equal(await run('curl', ['-sS', '--http2-prior-knowledge', '-w', '|%{http_version}|%{http_code}', `${base}/p/4?c=1`]), 'xxxx|2|200');
      assert.equal(await run('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', 'hello', `${base}/echo-size`]), '5');
    });
    assertNoDrops(r);
    const servers = spansOf(r.spans, SERVER);
    assert.ok(
      servers.every((s) => s.resource['process.pid'] === server.pid),
      dump(servers),
    );
    assert.equal(servers.length, 3 + 1 + 50 + 2, dump(r.spans));
    assert.deepEqual(count(servers.map(key)), {
      'GET /p/10?a=1 200': 1,
      'GET /p/3000 200': 1,
      'GET /missing 404': 1,
      'POST /echo-size 201': 2,
      'GET /p/7 200': 50,
      'GET /p/4?c=1 200': 1,
    });
    assertH2(servers, port);

    const nghttp = spansOf(r.spans, CLIENT, 'nghttp');
    assert.equal(nghttp.length, 4, dump(r.spans));
    assert.deepEqual(nghttp.map((s) => `${s.name} ${s.attributes['url.full']} ${s.attributes['http.response.status_code']}`).sort(), [
      `GET ${base}/missing 404`,
      `GET ${base}/p/10?a=1 200`,
      `GET ${base}/p/3000 200`,
      `POST ${base}/echo-size 201`,
    ]);
    const nPost = nghttp.find((s) => s.name === 'POST')!;
    assert.equal(nPost.attributes['http.request.body.size'], 30000);
    assert.equal(nPost.attributes['http.response.body.size'], 5);
    assert.equal(nghttp.find((s) => s.attributes['url.full'] === `${base}/p/3000`)!.attributes['http.response.body.size'], 3000);

    const h2load = spansOf(r.spans, CLIENT, 'h2load');
    assert.equal(h2load.length, 50, dump(r.spans));
    assert.ok(
      h2load.every(
        (s) =>
          s.name === 'GET' &&
          s.attributes['url.full'] === `${base}/p/7` &&
          s.attributes['http.response.status_code'] === 200 &&
          s.attributes['http.response.body.size'] === 7,
      ),
    );
    assert.equal(new Set(h2load.map((s) => s.attributes['network.peer.port'])).size, 1); // the server's port
    // Two connections: stream ids 1,3,... restart on each, 25 streams per connection.
    const ids = count(h2load.map((s) => String(s.attributes['tcpsniff.h2.stream_id'])));
    assert.equal(Object.keys(ids).length, 25, JSON.stringify(ids));
    assert.ok(
      Object.values(ids).every((n) => n === 2),
      JSON.stringify(ids),
    );

    const curl = spansOf(r.spans, CLIENT, 'curl');
    assert.equal(curl.length, 2, dump(r.spans));
    assert.deepEqual(curl.map((s) => `${s.name} ${s.attributes['url.full']} ${s.attributes['http.response.status_code']}`).sort(), [
      `GET ${base}/p/4?c=1 200`,
      `POST ${base}/echo-size 201`,
    ]);
    assert.equal(spansOf(r.spans, CLIENT).length, 56, dump(r.spans));
    assertH2([...nghttp, ...h2load, ...curl], port);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
