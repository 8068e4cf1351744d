// The unix receiver ends a connection when its socket is released, not at the first close(2):
// a server that closes the accepted descriptor and answers on a duplicate (inetd-style hand-over)
// keeps its response on the connection, and a client that exits without close(2) still ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unixReceiverFactory } from '../../src/receivers/unix';
import { createLogger } from '../../src/core/logger';
import type { CaptureChunk } from '../../src/core/types';
import { ROOT, SERVER, run, spansOf, stop, withCollector } from './harness';

const HANDOFF_SERVER = path.join(ROOT, 'test', 'fixtures', 'unix-handoff-server.py');
/** Node's net client: one request, then process.exit() on the response, its socket never closed. */
const EXITING_CLIENT = `const s = require('net').connect(process.argv[1], () => s.write('GET /exiting HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'));
let got = ''; s.on('data', (d) => { got += d; if (got.includes('handed over')) { console.log(process.pid); process.exit(0); } });`;

async function handoffServer(sock: string, count: number, answerAfterSeconds = 0) {
  const p = spawn('python3', [HANDOFF_SERVER, sock, String(count), String(answerAfterSeconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return p;
}

/** Runs curl and the exiting Node client against the server; returns the Node client's pid. */
async function traffic(sock: string): Promise<number> {
  assert.equal(await run('curl', ['-sS', '--unix-socket', sock, 'http://localhost/curl']), 'handed over');
  const pid = Number(await run(process.execPath, ['-e', EXITING_CLIENT, sock]));
  assert.ok(pid > 0, 'the Node client got its answer');
  return pid;
}

test('unix: an answer on a duplicated descriptor stays on its connection; a client exiting without close(2) ends', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-unix-release-'));
  const sock = path.join(dir, 'handoff.sock');
  const server = await handoffServer(sock, 2);
  const chunks: CaptureChunk[] = [];
  const receiver = unixReceiverFactory.create(
    unixReceiverFactory.parseConfig({ include: [sock] }, 'receivers::unix'),
    {
      id: 'unix',
      logger: createLogger('warn'),
    },
    { consumeChunks: (c) => void chunks.push(...c) },
  );
  await receiver.start();
  let nodePid = 0;
  try {
    nodePid = await traffic(sock);
    for (let t0 = Date.now(); chunks.filter((c) => c.kind === 'close').length < 4 && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await receiver.shutdown();
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const data = chunks.filter((c) => c.kind === 'data');
  const served = [...new Set(data.filter((c) => c.pid === server.pid).map((c) => c.conn.connId))];
  assert.equal(served.length, 2, `one server connection per request: ${served.join(' ')}`);
  for (const id of served) {
    const mine = chunks.filter((c) => c.conn.connId === id);
    const egress = Buffer.concat(mine.filter((c) => c.kind === 'data' && c.direction === 'egress').map((c) => c.data)).toString();
    assert.match(egress, /^HTTP\/1\.1 200 OK\r\n[^]*handed over$/, 'the answer on the connection the request came on');
    assert.equal(mine.at(-1)!.kind, 'close', 'one end, after the answer');
    assert.equal(mine.filter((c) => c.kind === 'close').length, 1);
  }
  // By pid: Node 24 names its main thread (the comm the kernel reports) MainThread.
  const nodeConn = data.find((c) => c.pid === nodePid)?.conn.connId;
  assert.ok(nodeConn, 'the Node client was captured');
  assert.equal(chunks.filter((c) => c.conn.connId === nodeConn).at(-1)!.kind, 'close', 'the exited client ended');
  for (const id of new Set(data.map((c) => c.conn.connId))) assert.equal(chunks.filter((c) => c.conn.connId === id).at(-1)!.kind, 'close', `${id} ended`);
});

test('unix: a connection the path filter mutes after its first records still ends (nothing left open)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-unix-release-'));
  const sock = path.join(dir, 'excluded.sock');
  // It answers late, so the mute has reached the kernel by then (it applies at a connection's next call).
  const server = await handoffServer(sock, 1, 0.5);
  // Only the server process (other traffic on the host does not count), and a path it does not match.
  const chunks: CaptureChunk[] = [];
  const receiver = unixReceiverFactory.create(
    unixReceiverFactory.parseConfig({ include: [path.join(dir, 'wanted.sock')], pids: [server.pid] }, 'receivers::unix'),
    { id: 'unix', logger: createLogger('warn') },
    { consumeChunks: (c) => void chunks.push(...c) },
  );
  await receiver.start();
  let stats: Record<string, number>;
  try {
    assert.equal(await run('curl', ['-sS', '--unix-socket', sock, 'http://localhost/excluded']), 'handed over');
    const settled = () => receiver.stats()['connections.filtered'] === 1 && receiver.stats()['connections.open'] === 0;
    for (let t0 = Date.now(); !settled() && Date.now() - t0 < 10_000;) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await receiver.shutdown();
    stats = receiver.stats();
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(
    chunks.filter((c) => c.kind !== 'process'),
    [],
    'nothing of the excluded path passes',
  );
  assert.equal(stats['connections.filtered'], 1);
  assert.equal(stats['connections.open'], 0, 'the muted connection ended too');
});

test('unix: the hand-over server through the collector: both SERVER spans complete', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-unix-release-'));
  const sock = path.join(dir, 'handoff.sock');
  const server = await handoffServer(sock, 2);
  try {
    const r = await withCollector({ unix: { include: [sock] } }, async () => void (await traffic(sock)));
    assert.equal(r.exitCode, 0, r.stderr);
    const spans = spansOf(r.spans, SERVER);
    assert.deepEqual(spans.map((s) => s.attributes['url.path']).sort(), ['/curl', '/exiting'], r.stderr);
    for (const s of spans) {
      assert.equal(s.attributes['http.response.status_code'], 200);
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined, JSON.stringify(s.attributes));
      assert.notEqual(s.status.code, 2, s.status.message);
    }
    for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}`);
  } finally {
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
