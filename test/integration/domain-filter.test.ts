// domain_filter through the real collector: include/exclude by port and host, and the push-down of
// a port include rule into the tcp receiver's in-kernel filter (excluded traffic never reaches
// user space: the exit summary's record, byte and exchange counts say so).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLIENT, SERVER, withCollector, type CollectorRun } from './harness';

async function serve(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

function post(port: number, host: string, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(Buffer.alloc(bytes, 120));
  });
}

const summary = (r: CollectorRun) => {
  const m = /summary: records=(\d+) bytes=(\d+) exchanges=(\d+)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  return { records: Number(m[1]), bytes: Number(m[2]), exchanges: Number(m[3]) };
};

test('domain_filter: a port include rule is pushed down; the other port never reaches user space', async () => {
  const a = await serve();
  const b = await serve();
  try {
    const traffic = async () => {
      for (let i = 0; i < 5; i++) await post(b.port, 'noise.local', 100_000);
      await post(a.port, 'wanted.local', 10);
    };
    const pushed = await withCollector({ processors: [['domain_filter', { include: [{ ports: [a.port] }] }]] }, traffic);
    assert.equal(pushed.exitCode, 0, pushed.stderr);
    assert.match(pushed.stderr, new RegExp(`receiver/tcp: domain_filter pushed down into the kernel filter: ports \\[${a.port}\\]`));
    const mine = pushed.spans.filter((s) => ['wanted.local', 'noise.local'].includes(String(s.attributes['server.address'])));
    assert.deepEqual(
      mine.map((s) => [s.attributes['server.address'], s.kind]).sort(),
      [
        ['wanted.local', SERVER],
        ['wanted.local', CLIENT],
      ].sort(),
    );
    const s1 = summary(pushed);
    assert.equal(s1.exchanges, 2, 'only port A exchanges reached the http processor');
    assert.ok(s1.bytes < 10_000, `captured bytes ${s1.bytes}: port B's 500 kB stayed in the kernel`);

    // The same rule without push-down: the same spans, but port B's bytes were captured and filtered in user space.
    const user = await withCollector({ processors: [['domain_filter', { include: [{ ports: [a.port] }], pushdown: false }]] }, traffic);
    assert.doesNotMatch(user.stderr, /pushed down/);
    const mine2 = user.spans.filter((s) => ['wanted.local', 'noise.local'].includes(String(s.attributes['server.address'])));
    assert.equal(mine2.length, 2);
    const s2 = summary(user);
    assert.ok(s2.exchanges >= 12, `port B's exchanges were parsed, then filtered (${s2.exchanges})`);
    assert.ok(s2.bytes >= 500_000, String(s2.bytes));
  } finally {
    await a.close();
    await b.close();
  }
});

test('domain_filter: host include with a glob and an exclude, in user space', async () => {
  const a = await serve();
  try {
    const r = await withCollector(
      { ports: [a.port], processors: [['domain_filter', { include: [{ hosts: ['*.example.test'] }], exclude: [{ hosts: ['/^skip\\./'] }] }]] },
      async () => {
        await post(a.port, 'api.example.test', 1);
        await post(a.port, 'skip.example.test', 1);
        await post(a.port, 'other.test', 1);
      },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /pushed down/);
    assert.deepEqual([...new Set(r.spans.map((s) => s.attributes['server.address']))], ['api.example.test']);
    assert.equal(r.spans.length, 2);
  } finally {
    await a.close();
  }
});
