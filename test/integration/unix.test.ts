// The unix receiver end to end: HTTP over a unix socket between curl and a Node server, through
// the real collector; include/exclude by path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLIENT, SERVER, run, spansOf, stop, withCollector } from './harness';

const SERVER_JS = `require('http').createServer((q, s) => s.end('unix:' + q.url)).listen(process.argv[1], () => console.log('up'));`;

async function unixServer(sock: string) {
  const p = spawn(process.execPath, ['-e', SERVER_JS, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return p;
}

test('HTTP over a unix socket: SERVER and CLIENT spans; excluded paths are not captured', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-unix-'));
  const wanted = path.join(dir, 'api.sock');
  const other = path.join(dir, 'other.sock');
  const [a, b] = [await unixServer(wanted), await unixServer(other)];
  try {
    const r = await withCollector({ unix: { include: [`${dir}/*.sock`], exclude: ['**/other.sock'] } }, async () => {
      assert.equal(await run('curl', ['-sS', '--unix-socket', wanted, 'http://localhost/v1/items?limit=2']), 'unix:/v1/items?limit=2');
      assert.equal(await run('curl', ['-sS', '--unix-socket', other, 'http://localhost/hidden']), 'unix:/hidden');
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const servers = spansOf(r.spans, SERVER);
    const clients = spansOf(r.spans, CLIENT);
    assert.equal(servers.length, 1, r.stderr);
    assert.equal(clients.length, 1, r.stderr);
    const [s, c] = [servers[0]!, clients[0]!];
    assert.equal(s.resource['process.pid'], a.pid);
    assert.equal(s.attributes['url.path'], '/v1/items');
    assert.equal(s.attributes['url.query'], 'limit=2');
    assert.equal(s.attributes['http.response.status_code'], 200);
    assert.equal(s.attributes['network.transport'], 'unix');
    assert.equal(s.attributes['network.peer.address'], wanted);
    assert.equal(c.resource['process.executable.name'], 'curl');
    assert.equal(c.attributes['url.full'], 'http://localhost/v1/items?limit=2');
    assert.equal(c.attributes['server.address'], 'localhost');
    assert.equal(c.attributes['network.transport'], 'unix');
    assert.equal(c.attributes['network.peer.address'], wanted);
    for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}`);
    assert.ok(!r.spans.some((x) => String(x.attributes['url.path'] ?? x.attributes['url.full']).includes('hidden')));
  } finally {
    await stop(a);
    await stop(b);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
