// HTTP/2 and gRPC over unix sockets through the unix receiver: Node's http2 server and client (h2c
// prior knowledge over net.connect(path)) and grpc-js (unix:// targets), in separate processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertGrpcEchoCalls, assertNoDrops, byStream, dump } from './h2-expect';
import { CLIENT, ROOT, SERVER, run, spansOf, stop, withCollector } from './harness';

const FIX = path.join(ROOT, 'test', 'fixtures');

const canConnect = (sock: string) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(sock, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });

/** Starts a server fixture on a unix socket and waits until it accepts connections. */
async function unixServer(script: string, sock: string): Promise<ChildProcess> {
  const p = spawn(process.execPath, [script, sock], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  const t0 = Date.now();
  for (;;) {
    if (p.exitCode !== null) throw new Error(`${script} exited early: ${err}`);
    if (await canConnect(sock)) return p;
    if (Date.now() - t0 > 15_000) {
      p.kill('SIGKILL');
      throw new Error(`${script} did not listen on ${sock}: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function withUnixServer(script: string, body: (sock: string, server: ChildProcess) => Promise<void>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-h2unix-'));
  const sock = path.join(dir, 'h2.sock');
  let server: ChildProcess | undefined;
  try {
    server = await unixServer(script, sock);
    await body(sock, server);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('Node http2 server and client over a unix socket (h2c prior knowledge): concurrent streams, bodies, trailers', async () => {
  await withUnixServer(path.join(FIX, 'h2-server.js'), async (sock, server) => {
    let lines: Array<{ path: string; status: number; body: number; trailers?: string }> = [];
    const r = await withCollector({ unix: { include: [sock] } }, async () => {
      lines = (await run(process.execPath, [path.join(FIX, 'h2-client.js'), sock]))
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
    assert.ok(servers.every((s) => s.resource['process.pid'] === server.pid));
    assert.ok(clients.every((s) => s.resource['process.pid'] !== server.pid));
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
        spans.map((s) => s.attributes['http.request.method']),
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
        assert.equal(s.attributes['network.transport'], 'unix');
        assert.equal(s.attributes['network.peer.address'], sock);
        assert.equal(s.attributes['server.address'], 'localhost');
        assert.equal(s.attributes['server.port'], 80);
        assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
        assert.equal(s.attributes['tcpsniff.h2.unknown_headers'], undefined);
        assert.ok(s.end >= s.start);
      }
    }
    assert.deepEqual(
      servers.map((s) => s.attributes['url.path']),
      ['/p/10', '/p/20000', '/echo-size', '/echo-size', '/missing'],
    );
    assert.equal(servers[0]!.attributes['url.query'], 'q=1');
    // Node's client sends :authority 'localhost:80' (the URL's host and default port), as on the wire.
    assert.equal(clients[0]!.attributes['url.full'], 'http://localhost:80/p/10?q=1');
    assert.equal(clients[4]!.status.code, 2);
    assert.equal(servers[4]!.status.code ?? 0, 0);
  });
});

test('gRPC (grpc-js) over a unix socket: unary, client/server streaming, bidi, an error status', async () => {
  await withUnixServer(path.join(FIX, 'grpc-server.js'), async (sock, server) => {
    let out: Record<string, { code: number; value?: unknown }> = {};
    const r = await withCollector({ unix: { include: [sock] } }, async () => {
      out = JSON.parse(await run(process.execPath, [path.join(FIX, 'grpc-client.js'), sock]));
    });
    assertGrpcEchoCalls(r, out, server.pid, (s, where) => {
      assert.equal(s.attributes['network.transport'], 'unix', where);
      assert.equal(s.attributes['network.peer.address'], sock, where);
    });
  });
});
