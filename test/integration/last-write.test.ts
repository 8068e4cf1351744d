// A server's last write after its peer closed (issue 12, item 2). An SSE stream ends with one
// more write (the chunked terminator, or HTTP/2's END_STREAM frame) after the client stopped
// reading at `data: [DONE]` and closed: that send still returns its length, and the peer's reset
// reaches the socket inside the very same send on loopback, moving it to TCP_CLOSE before the
// call returns. The bytes must be captured on the connection they belong to, the connection end
// after them, and nothing left open afterwards. Real servers (uvicorn, hypercorn) and a real
// client (httpx) that closes at [DONE].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { tcpReceiverFactory } from '../../src/receivers/tcp';
import { createLogger } from '../../src/core/logger';
import type { CaptureChunk } from '../../src/core/types';
import { PYTHON_PEERS, ROOT, SERVER, freePort, run, startServer, stop, withCollector } from './harness';

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const STREAMS = 3;
const TERMINATOR = '0\r\n\r\n';

type Server = 'uvicorn' | 'hypercorn';

/** The ASGI app of test/fixtures/sse_asgi.py under a real server, in one process. */
function startAsgi(server: Server, port: number) {
  const args =
    server === 'uvicorn'
      ? ['-m', 'uvicorn', 'sse_asgi:app', '--port', String(port), '--lifespan', 'off', '--log-level', 'warning']
      : ['-m', 'hypercorn', '--workers', '0', '--bind', `127.0.0.1:${port}`, 'sse_asgi:app'];
  return startServer(PYTHON_PEERS, args, '127.0.0.1', port, FIXTURES);
}

/** httpx streams STREAMS responses, each on its own connection, closing each at [DONE]. */
async function streamsToDone(port: number, h2 = false) {
  const out = await run(PYTHON_PEERS, [
    path.join(FIXTURES, 'sse_done_client.py'),
    `http://127.0.0.1:${port}/v1/chat/completions`,
    String(STREAMS),
    h2 ? 'h2' : 'h1',
  ]);
  assert.equal(out.trim(), String(STREAMS), 'every stream reached [DONE]');
}

for (const [server, h2] of [
  ['uvicorn', false],
  ['hypercorn', false],
  ['hypercorn', true],
] as const) {
  test(`${server}${h2 ? ' (HTTP/2)' : ''}: the SERVER span of a stream the client closed at [DONE] is complete, nothing dropped`, async () => {
    const port = await freePort();
    const srv = await startAsgi(server, port);
    try {
      const r = await withCollector({ ports: [port] }, async () => {
        await streamsToDone(port, h2);
        // The server's last write comes 50 ms after the client left (sse_asgi.py): let it happen
        // before the collector stops, or it is (rightly) an exchange cut by the shutdown.
        await new Promise((r) => setTimeout(r, 1000));
      });
      assert.equal(r.exitCode, 0, r.stderr);
      const served = r.spans.filter((s) => s.kind === SERVER && s.attributes['server.port'] === port);
      assert.equal(served.length, STREAMS, r.stderr);
      for (const s of served) {
        assert.equal(s.attributes['http.response.status_code'], 200);
        assert.equal(s.attributes['tcpsniff.incomplete'], undefined, `the end of the body was captured: ${JSON.stringify(s.attributes)}`);
        assert.notEqual(s.status.code, 2, `not an error: ${s.status.message}`);
      }
      const lost = Object.entries(r.drops).filter(([, n]) => n > 0);
      assert.deepEqual(lost, [], 'no drop of any kind');
    } finally {
      await stop(srv);
    }
  });
}

for (const server of ['uvicorn', 'hypercorn'] as const) {
  test(`${server}: the late terminator is on its connection, before its close; no connection left open (no port filter)`, async () => {
    const port = await freePort();
    const srv = await startAsgi(server, port);
    // Only the server process, so other traffic on the host does not count; no port filter: the
    // socket's local port is gone once it reached TCP_CLOSE, so a late record read afresh from it
    // would land on a new connection (and a port filter would drop it).
    const chunks: CaptureChunk[] = [];
    const receiver = tcpReceiverFactory.create(
      tcpReceiverFactory.parseConfig({ pids: [srv.pid] }, 'receivers::tcp'),
      {
        id: 'tcp',
        logger: createLogger('warn'),
      },
      { consumeChunks: (c) => void chunks.push(...c) },
    );
    await receiver.start();
    let stats: Record<string, number>;
    try {
      await streamsToDone(port);
      // The connection ends when the server closes its socket: uvicorn right after the last
      // write, hypercorn when its keep-alive timer (5 s) finds the socket reset.
      for (let t0 = Date.now(); chunks.filter((c) => c.kind === 'close').length < STREAMS && Date.now() - t0 < 20_000;)
        await new Promise((r) => setTimeout(r, 50));
    } finally {
      await receiver.shutdown();
      stats = receiver.stats();
      await stop(srv);
    }
    const conns = [...new Set(chunks.map((c) => c.conn.connId))];
    assert.equal(conns.length, STREAMS, `one connection per stream, no stray one: ${conns.join(' ')}`);
    for (const id of conns) {
      const mine = chunks.filter((c) => c.conn.connId === id);
      assert.equal(mine[0]!.conn.role, 'server');
      assert.equal(mine[0]!.conn.localPort, port);
      const egress = Buffer.concat(mine.filter((c) => c.kind === 'data' && c.direction === 'egress').map((c) => c.data)).toString();
      assert.ok(egress.includes('data: [DONE]') && egress.endsWith(TERMINATOR), `the whole response, terminator last: ${JSON.stringify(egress.slice(-40))}`);
      assert.equal(mine.at(-1)!.kind, 'close', 'the close comes after the last bytes');
      assert.equal(mine.filter((c) => c.kind === 'close').length, 1);
    }
    assert.equal(stats['connections.open'], 0, 'every connection ended');
    for (const [k, n] of Object.entries(stats)) if (k.startsWith('drops.')) assert.equal(n, 0, k);
  });
}

test('the same on the receive side: a response read after the socket reached TCP_CLOSE stays on its connection', async () => {
  const port = await freePort();
  const chunks: CaptureChunk[] = [];
  const receiver = tcpReceiverFactory.create(
    tcpReceiverFactory.parseConfig({ ports: [port] }, 'receivers::tcp'),
    { id: 'tcp', logger: createLogger('warn') },
    { consumeChunks: (c) => void chunks.push(...c) },
  );
  await receiver.start();
  let pid = 0;
  try {
    const [p, read] = (await run('python3', [path.join(FIXTURES, 'half-close.py'), String(port)])).trim().split(' ').map(Number);
    pid = p!;
    assert.equal(read, 43, 'the client read the whole response');
  } finally {
    await receiver.shutdown();
  }
  const client = chunks.filter((c) => c.pid === pid && c.conn.role === 'client');
  const ids = [...new Set(chunks.filter((c) => c.pid === pid && c.kind === 'data').map((c) => c.conn.connId))];
  assert.equal(ids.length, 2, `the two ends, no third connection: ${ids.join(' ')}`);
  const ingress = Buffer.concat(client.filter((c) => c.kind === 'data' && c.direction === 'ingress').map((c) => c.data)).toString();
  assert.match(ingress, /hello$/, 'the response on the client connection');
  assert.equal(client.at(-1)!.kind, 'close', 'its close after it');
  assert.equal(receiver.stats()['connections.open'], 0);
});
