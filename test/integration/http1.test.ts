// HTTP/1.x end to end on the machine's own kernel: real servers, real clients, the real
// collector; assertions on the file exporter's OTLP/JSON output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLIENT, ROOT, SERVER, freePort, run, spansOf, startServer, stop, withCollector, type CollectorRun } from './harness';

const NODE_SERVER = path.join(ROOT, 'test', 'fixtures', 'node-http-server.js');
const NODE_CLIENT = path.join(ROOT, 'test', 'fixtures', 'node-http-client.js');
const PIPELINED_CLIENT = path.join(ROOT, 'test', 'fixtures', 'pipelined-client.py');

function assertNoDrops(r: CollectorRun) {
  assert.ok(Object.keys(r.drops).length > 0, `the exit summary reports drops by reason:\n${r.stderr}`);
  for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
  assert.equal(r.exitCode, 0, r.stderr);
}

test('curl against python3 -m http.server: one SERVER and one CLIENT span, exact attributes, traceparent honoured', async () => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-www-'));
  fs.writeFileSync(path.join(dir, 'hello.txt'), 'hello from the test\n');
  const server = await startServer('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], '127.0.0.1', port, dir);
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const parentId = '00f067aa0ba902b7';
  try {
    const r = await withCollector({ ports: [port], http: { command_line: true } }, async () => {
      const out = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        `traceparent: 00-${traceId}-${parentId}-01`,
        `http://127.0.0.1:${port}/hello.txt?a=1&b=two`,
      ]);
      assert.equal(out, '200');
    });
    assertNoDrops(r);
    const servers = spansOf(r.spans, SERVER);
    const clients = spansOf(r.spans, CLIENT);
    assert.equal(
      servers.length,
      1,
      JSON.stringify(r.spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 1),
    );
    assert.equal(clients.length, 1);
    const [s, c] = [servers[0]!, clients[0]!];

    assert.equal(s.name, 'GET');
    assert.equal(s.traceId, traceId);
    assert.equal(s.parentSpanId, parentId);
    assert.equal(s.resource['process.pid'], server.pid);
    assert.equal(s.attributes['http.request.method'], 'GET');
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['url.path'], '/hello.txt');
    assert.equal(s.attributes['url.query'], 'a=1&b=two');
    assert.equal(s.attributes['url.scheme'], 'http');
    assert.equal(s.attributes['server.address'], '127.0.0.1');
    assert.equal(s.attributes['server.port'], port);
    assert.equal(s.attributes['client.address'], '127.0.0.1');
    assert.equal(s.attributes['network.peer.address'], '127.0.0.1');
    assert.equal(s.attributes['http.response.body.size'], 'hello from the test\n'.length);
    assert.match(String(s.attributes['user_agent.original']), /^curl\//);
    assert.equal(s.status.code ?? 0, 0);
    assert.ok(s.end >= s.start);

    assert.equal(c.name, 'GET');
    assert.equal(c.traceId, traceId);
    assert.equal(c.parentSpanId, parentId);
    assert.equal(c.resource['process.executable.name'], 'curl');
    assert.match(String(c.resource['process.command_line']), /curl -sS -o \/dev\/null/);
    assert.equal(c.attributes['url.full'], `http://127.0.0.1:${port}/hello.txt?a=1&b=two`);
    assert.equal(c.attributes['server.address'], '127.0.0.1');
    assert.equal(c.attributes['server.port'], port);
    assert.equal(c.attributes['network.peer.address'], '127.0.0.1');
    assert.equal(c.attributes['network.peer.port'], port);
    assert.equal(c.attributes['http.response.status_code'], 200);
    assert.equal(c.attributes['http.response.body.size'], 'hello from the test\n'.length);
    // The server's peer is curl's ephemeral port.
    assert.equal(typeof s.attributes['network.peer.port'], 'number');
    assert.notEqual(s.attributes['network.peer.port'], port);
    assert.notEqual(s.spanId, c.spanId);
    // Wall-clock times, close to now.
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    assert.ok(nowNs - s.start < 120_000_000_000n && s.start <= nowNs, `start ${s.start} vs now ${nowNs}`);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('Node http server and client: keep-alive, chunked responses and a chunked request body', async () => {
  const port = await freePort();
  const server = await startServer(process.execPath, [NODE_SERVER, String(port)], '127.0.0.1', port);
  try {
    let lines: Array<{ path: string; status: number; body: string }> = [];
    const r = await withCollector({ ports: [port] }, async () => {
      lines = (await run(process.execPath, [NODE_CLIENT, String(port)]))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    });
    assertNoDrops(r);
    assert.equal(lines.length, 4);
    const servers = spansOf(r.spans, SERVER).sort((a, b) => Number(a.start - b.start));
    const clients = spansOf(r.spans, CLIENT).sort((a, b) => Number(a.start - b.start));
    assert.equal(servers.length, 4, r.stderr);
    assert.equal(clients.length, 4, r.stderr);
    for (const spans of [servers, clients]) {
      assert.deepEqual(
        spans.map((s) => s.attributes['http.request.method']),
        ['GET', 'GET', 'POST', 'GET'],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['http.response.status_code']),
        [200, 200, 201, 200],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['http.response.body.size']),
        lines.map((l) => Buffer.byteLength(l.body, 'latin1')),
      );
      assert.equal(spans[2]!.attributes['http.request.body.size'], 'hello chunked world'.length);
      // One keep-alive connection: the same peer port for all four exchanges.
      assert.equal(new Set(spans.map((s) => s.attributes['network.peer.port'])).size, 1);
    }
    assert.deepEqual(
      servers.map((s) => s.attributes['url.path']),
      ['/chunked/3', '/chunked/5', '/echo-size', '/p/1000'],
    );
    assert.equal(servers[0]!.resource['process.pid'], server.pid);
    assert.equal(clients[3]!.attributes['url.full'], `http://127.0.0.1:${port}/p/1000`);
  } finally {
    await stop(server);
  }
});

test('a 1 MiB POST is captured completely', async () => {
  const port = await freePort();
  const server = await startServer(process.execPath, [NODE_SERVER, String(port)], '127.0.0.1', port);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-post-'));
  const body = path.join(dir, 'body.bin');
  fs.writeFileSync(body, Buffer.alloc(1 << 20, 'z'));
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      const out = await run('curl', ['-sS', '--data-binary', `@${body}`, '-H', 'content-type: application/octet-stream', `http://127.0.0.1:${port}/echo-size`]);
      assert.equal(out, String(1 << 20));
    });
    assertNoDrops(r);
    const servers = spansOf(r.spans, SERVER);
    const clients = spansOf(r.spans, CLIENT);
    assert.equal(servers.length, 1, r.stderr);
    assert.equal(clients.length, 1, r.stderr);
    for (const s of [servers[0]!, clients[0]!]) {
      assert.equal(s.name, 'POST');
      assert.equal(s.attributes['http.request.body.size'], 1 << 20);
      assert.equal(s.attributes['http.response.status_code'], 201);
      assert.equal(s.attributes['http.response.body.size'], String(1 << 20).length);
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
    }
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pipelined requests on one connection are paired with the right responses', async () => {
  const port = await freePort();
  const server = await startServer(process.execPath, [NODE_SERVER, String(port)], '127.0.0.1', port);
  const paths = ['/p/10', '/p/200', '/p/3000'];
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      const ok = await run('python3', [PIPELINED_CLIENT, '127.0.0.1', String(port), ...paths]);
      assert.equal(ok.trim(), '3');
    });
    assertNoDrops(r);
    for (const kind of [SERVER, CLIENT]) {
      const spans = spansOf(r.spans, kind).sort((a, b) => Number(a.start - b.start));
      assert.equal(spans.length, 3, `kind ${kind}: ${r.stderr}`);
      for (const [i, s] of spans.entries()) {
        const p = paths[i]!;
        if (kind === SERVER) assert.equal(s.attributes['url.path'], p);
        else assert.equal(s.attributes['url.full'], `http://127.0.0.1:${port}${p}`);
        assert.equal(s.attributes['http.response.body.size'], Number(p.split('/')[2]));
      }
    }
  } finally {
    await stop(server);
  }
});

test('IPv6 loopback', async () => {
  const port = await freePort('::1');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-www6-'));
  fs.writeFileSync(path.join(dir, 'six.txt'), 'six');
  const server = await startServer('python3', ['-m', 'http.server', String(port), '--bind', '::1'], '::1', port, dir);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      assert.equal(await run('curl', ['-sS', '-g', `http://[::1]:${port}/six.txt`]), 'six');
    });
    assertNoDrops(r);
    const [s] = spansOf(r.spans, SERVER);
    const [c] = spansOf(r.spans, CLIENT);
    assert.ok(s && c, r.stderr);
    assert.equal(spansOf(r.spans, SERVER).length, 1);
    assert.equal(spansOf(r.spans, CLIENT).length, 1);
    assert.equal(s.attributes['network.peer.address'], '::1');
    assert.equal(s.attributes['client.address'], '::1');
    assert.equal(c.attributes['network.peer.address'], '::1');
    assert.equal(c.attributes['network.peer.port'], port);
    assert.equal(c.attributes['url.full'], `http://[::1]:${port}/six.txt`);
    assert.equal(c.attributes['server.address'], '::1');
    assert.equal(s.attributes['http.response.body.size'], 3);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
