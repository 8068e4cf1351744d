// HTTP/2 and gRPC end to end on the machine's own kernel: real servers and clients in separate
// processes, the real collector; assertions on the file exporter's OTLP/JSON output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { assertGrpcEchoCalls, assertNoDrops, byStream, dump } from './h2-expect';
import { CLIENT, ROOT, SERVER, freePort, run, spansOf, startServer, stop, withCollector } from './harness';

const FIX = path.join(ROOT, 'test', 'fixtures');
const H2_SERVER = path.join(FIX, 'h2-server.js');
const H2_CLIENT = path.join(FIX, 'h2-client.js');
const GRPC_SERVER = path.join(FIX, 'grpc-server.js');
const GRPC_CLIENT = path.join(FIX, 'grpc-client.js');
const H2C_UPGRADE_SERVER = path.join(FIX, 'h2c-upgrade-server.py');

test('Node http2 server and client (h2c prior knowledge): concurrent streams, POST bodies, trailers', async () => {
  const port = await freePort();
  const server = await startServer(process.execPath, [H2_SERVER, String(port)], '127.0.0.1', port);
  try {
    let lines: Array<{ path: string; status: number; body: number; trailers?: string }> = [];
    const r = await withCollector({ ports: [port] }, async () => {
      lines = (await run(process.execPath, [H2_CLIENT, String(port)]))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    });
    assertNoDrops(r);
    assert.deepEqual(
      lines.map((l) => [l.path, l.status, l.body, l.trailers]),
      [
        ['/p/10?q=1', 200, 10, undefined],
        ['/p/20000', 200, 20000, undefined],
        ['/echo-size', 201, 5, '70000'],
        ['/echo-size', 201, 1, '5'],
        ['/missing', 404, 9, undefined],
      ],
    );
    const servers = spansOf(r.spans, SERVER).sort(byStream);
    const clients = spansOf(r.spans, CLIENT).sort(byStream);
    assert.equal(servers.length, 5, dump(r.spans));
    assert.equal(clients.length, 5, dump(r.spans));
    for (const spans of [servers, clients]) {
      assert.deepEqual(
        spans.map((s) => s.attributes['tcpsniff.h2.stream_id']),
        [1, 3, 5, 7, 9],
      );
      assert.deepEqual(
        spans.map((s) => s.name),
        ['GET', 'GET', 'POST', 'POST', 'GET'],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['http.response.status_code']),
        [200, 200, 201, 201, 404],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['http.response.body.size']),
        [10, 20000, 5, 1, 9],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['http.request.body.size']),
        [undefined, undefined, 70000, 5, undefined],
      );
      for (const s of spans) {
        assert.equal(s.attributes['network.protocol.version'], '2');
        assert.equal(s.attributes['server.address'], '127.0.0.1');
        assert.equal(s.attributes['server.port'], port);
        assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
        assert.equal(s.attributes['tcpsniff.h2.unknown_headers'], undefined);
        assert.ok(s.end >= s.start);
      }
      // One connection: the same peer port for every stream.
      assert.equal(new Set(spans.map((s) => s.attributes['network.peer.port'])).size, 1);
    }
    assert.deepEqual(
      servers.map((s) => s.attributes['url.path']),
      ['/p/10', '/p/20000', '/echo-size', '/echo-size', '/missing'],
    );
    assert.equal(servers[0]!.attributes['url.query'], 'q=1');
    assert.equal(servers[0]!.attributes['url.scheme'], 'http');
    assert.equal(servers[0]!.resource['process.pid'], server.pid);
    assert.equal(clients[0]!.attributes['url.full'], `http://127.0.0.1:${port}/p/10?q=1`);
    assert.equal(clients[4]!.status.code, 2); // 404 is an error on the client side only
    assert.equal(servers[4]!.status.code ?? 0, 0);
  } finally {
    await stop(server);
  }
});

test('h2c upgrade from HTTP/1.1 (curl --http2 against a server that accepts the upgrade)', async () => {
  const port = await freePort();
  const server = await startServer('python3', [H2C_UPGRADE_SERVER, String(port)], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      const out = await run('curl', ['-sS', '--http2', '-w', '|%{http_version}|%{http_code}', `http://127.0.0.1:${port}/up?x=1`]);
      assert.equal(out, 'hello over h2c\n|2|200');
    });
    assertNoDrops(r);
    const servers = spansOf(r.spans, SERVER);
    const clients = spansOf(r.spans, CLIENT);
    assert.equal(servers.length, 1, dump(r.spans));
    assert.equal(clients.length, 1, dump(r.spans));
    for (const s of [servers[0]!, clients[0]!]) {
      assert.equal(s.name, 'GET');
      assert.equal(s.attributes['http.request.method'], 'GET');
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.equal(s.attributes['network.protocol.version'], '2');
      assert.equal(s.attributes['tcpsniff.h2.stream_id'], 1);
      assert.equal(s.attributes['http.response.body.size'], 'hello over h2c\n'.length);
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
    }
    assert.equal(servers[0]!.attributes['url.path'], '/up');
    assert.equal(servers[0]!.attributes['url.query'], 'x=1');
    assert.equal(clients[0]!.attributes['url.full'], `http://127.0.0.1:${port}/up?x=1`);
    assert.equal(clients[0]!.resource['process.executable.name'], 'curl');
  } finally {
    await stop(server);
  }
});

test('gRPC (grpc-js server and client in separate processes): unary, client/server streaming, bidi, an error status', async () => {
  const port = await freePort();
  const server = await startServer(process.execPath, [GRPC_SERVER, String(port)], '127.0.0.1', port);
  try {
    let out: Record<string, { code: number; value?: unknown }> = {};
    const r = await withCollector({ ports: [port] }, async () => {
      out = JSON.parse(await run(process.execPath, [GRPC_CLIENT, String(port)]));
    });
    assertGrpcEchoCalls(r, out, server.pid, (s, where) => assert.equal(s.attributes['server.port'], port, where));
  } finally {
    await stop(server);
  }
});
