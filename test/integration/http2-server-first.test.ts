// HTTP/2 servers that speak first: grpcio writes SETTINGS and WINDOW_UPDATE right after accept,
// before it reads the client's preface. A connection the collector saw from its handshake must
// still parse from its first byte: stream 1 has its span, HPACK stays in sync (no unknown fields
// on later streams), and nothing is skipped (no resync_bytes) — with a client that writes the
// preface on its own (grpc-js) and clients that write preface and stream 1's HEADERS in one go
// (Node's http2 client, h2load).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLIENT, PYTHON_PEERS, ROOT, SERVER, freePort, run, spansOf, startServer, stop, withCollector, type FlatSpan } from './harness';
import { assertGrpcEchoCalls, assertNoDrops, byStream, dump } from './h2-expect';

const FIX = path.join(ROOT, 'test', 'fixtures');

function assertWhole(spans: FlatSpan[], port: number) {
  for (const s of spans) {
    const where = `${s.resource['process.executable.name']} ${s.name} stream ${s.attributes['tcpsniff.h2.stream_id']}`;
    assert.equal(s.attributes['network.protocol.version'], '2', where);
    assert.equal(s.attributes['server.port'], port, where);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined, where);
    assert.equal(s.attributes['tcpsniff.h2.unknown_headers'], undefined, where);
  }
}

test('grpcio server (speaks first) and a grpc-js client: every call parsed from the first byte', async () => {
  const port = await freePort();
  const server = await startServer(PYTHON_PEERS, [path.join(FIX, 'grpcio-server.py'), String(port)], '127.0.0.1', port);
  try {
    let out: Record<string, { code: number; value?: unknown }> = {};
    const r = await withCollector({ ports: [port] }, async () => {
      out = JSON.parse(await run(process.execPath, [path.join(FIX, 'grpc-client.js'), String(port)]));
    });
    assertGrpcEchoCalls(r, out, server.pid, (s, where) => assert.equal(s.attributes['server.port'], port, where));
  } finally {
    await stop(server);
  }
});

test('h2load as a gRPC client against grpcio (preface and stream 1 in one write): every call has its span', async () => {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-h2first-'));
  const msg = path.join(dir, 'unary.bin');
  fs.writeFileSync(msg, Buffer.from([0, 0, 0, 0, 5, ...Buffer.from('hello')])); // one gRPC message
  const server = await startServer(PYTHON_PEERS, [path.join(FIX, 'grpcio-server.py'), String(port)], '127.0.0.1', port);
  try {
    const r = await withCollector({ ports: [port] }, async () => {
      const load = await run('h2load', [
        '-n',
        '12',
        '-c',
        '2',
        '-m',
        '3',
        '-d',
        msg,
        '-H',
        'content-type: application/grpc',
        '-H',
        'te: trailers',
        `http://127.0.0.1:${port}/tcpsniff.test.Echo/Unary`,
      ]);
      assert.match(load, /requests: 12 total, 12 started, 12 done, 12 succeeded/);
    });
    assertNoDrops(r);
    for (const kind of [SERVER, CLIENT]) {
      const spans = spansOf(r.spans, kind).sort(byStream);
      assert.equal(spans.length, 12, dump(r.spans));
      // Two connections of six streams each: stream 1 of both has its span.
      assert.deepEqual(
        spans.map((s) => s.attributes['tcpsniff.h2.stream_id']),
        [1, 1, 3, 3, 5, 5, 7, 7, 9, 9, 11, 11],
      );
      assertWhole(spans, port);
      for (const s of spans) {
        assert.equal(s.name, 'tcpsniff.test.Echo/Unary');
        assert.equal(s.attributes['rpc.status_code'], 'OK');
        assert.equal(s.attributes['rpc.grpc.request.message_count'], 1);
        assert.equal(s.attributes['rpc.grpc.response.message_count'], 1);
        assert.equal(s.attributes['rpc.grpc.response.message_bytes'], 5);
        if (kind === CLIENT) assert.match(String(s.attributes['user_agent.original']), /^h2load/);
      }
    }
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("Node's http2 client (preface and stream 1 in one write) against grpcio: stream 1 has its span, HPACK in sync", async () => {
  const port = await freePort();
  const server = await startServer(PYTHON_PEERS, [path.join(FIX, 'grpcio-server.py'), String(port)], '127.0.0.1', port);
  try {
    let lines: Array<{ path: string; grpcStatus: number; messages: number }> = [];
    const r = await withCollector({ ports: [port] }, async () => {
      lines = (await run(process.execPath, [path.join(FIX, 'h2-grpc-client.js'), String(port)]))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    });
    assertNoDrops(r);
    const calls = ['Unary', 'Expand', 'Unary'];
    assert.deepEqual(
      lines.map((l) => [l.path, l.grpcStatus, l.messages]),
      calls.map((m, i) => [`/tcpsniff.test.Echo/${m}`, 0, i === 1 ? 3 : 1]),
    );
    for (const kind of [SERVER, CLIENT]) {
      const spans = spansOf(r.spans, kind).sort(byStream);
      assert.equal(spans.length, 3, dump(r.spans));
      assertWhole(spans, port);
      assert.deepEqual(
        spans.map((s) => s.attributes['tcpsniff.h2.stream_id']),
        [1, 3, 5],
      );
      assert.deepEqual(
        spans.map((s) => s.name),
        calls.map((m) => `tcpsniff.test.Echo/${m}`),
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['rpc.grpc.request.message_count']),
        [1, 1, 1],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['rpc.grpc.response.message_count']),
        [1, 3, 1],
      );
      assert.deepEqual(
        spans.map((s) => s.attributes['rpc.status_code']),
        ['OK', 'OK', 'OK'],
      );
      // Every stream's fields decode, from stream 1's insertions on: the user agent on each.
      assert.deepEqual(
        spans.map((s) => s.attributes['user_agent.original']),
        ['node-h2-grpc', 'node-h2-grpc', 'node-h2-grpc'],
      );
    }
    assert.ok(spansOf(r.spans, SERVER).every((s) => s.resource['process.pid'] === server.pid));
  } finally {
    await stop(server);
  }
});
