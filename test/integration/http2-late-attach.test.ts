// Late attach: a long-lived HTTP/2 connection is already busy (its HPACK dynamic tables full of
// entries) when the collector starts. Fields referring to entries from before the attach must be
// marked unknown, never decoded to a wrong value; once the client re-sends its headers as new
// insertions, requests decode fully.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { CLIENT, PYTHON_PEERS, ROOT, SERVER, freePort, spansOf, startServer, stop, withCollector, type FlatSpan } from './harness';
import { goH2c } from './go-h2c';
import { assertNoDrops } from './h2-expect';

const FIX = path.join(ROOT, 'test', 'fixtures');

interface Done {
  i: number;
  path: string;
  session: string;
  suffix: string;
  authority: string;
  status: number;
  body: string;
}

/** Resolves when `ok()` holds (checked every 10 ms); rejects after `ms`. */
async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A long-running client driven by one command per stdin line, answering one JSON line per
 * command: request(cmd) sends it and resolves with the answer.
 */
function lineClient<T>(c: ChildProcess): { request: (cmd: string) => Promise<T>; done: T[] } {
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  const done: T[] = [];
  readline.createInterface({ input: c.stdout! }).on('line', (l) => done.push(JSON.parse(l)));
  let sent = 0;
  const request = async (cmd: string) => {
    const i = ++sent;
    c.stdin!.write(`${cmd}\n`);
    await until(`command ${i} (${cmd})`, () => {
      if (c.exitCode !== null) throw new Error(`client exited ${c.exitCode}: ${err}`);
      return done.length >= i;
    });
    return done[i - 1]!;
  };
  return { request, done };
}

const dump = (spans: FlatSpan[]) => JSON.stringify(spans.slice(0, 6), (_k, v) => (typeof v === 'bigint' ? String(v) : v), 1);
const MARKER = /^<unknown: dynamic table entry \d+ before attach>$/;

test('attached to a busy HTTP/2 connection: pre-attach table entries are marked unknown, never wrong; re-sent headers decode fully', async () => {
  const port = await freePort();
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  try {
    server = await startServer(process.execPath, [path.join(FIX, 'h2-late-server.js'), String(port)], '127.0.0.1', port);
    client = spawn(process.execPath, [path.join(FIX, 'h2-late-client.js'), String(port), '3'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const c = client;
    let clientErr = '';
    c.stderr!.on('data', (d) => (clientErr += d));
    const done: Done[] = [];
    readline.createInterface({ input: c.stdout! }).on('line', (l) => done.push(JSON.parse(l)));
    const alive = () => {
      if (c.exitCode !== null) throw new Error(`client exited ${c.exitCode}: ${clientErr}`);
      return true;
    };
    // Busy before the collector starts: the client's and the server's dynamic tables hold entries.
    await until('30 requests before attach', () => alive() && done.length >= 30);

    let lastBeforeReady = 0; // every request numbered above this one was sent after the collector was ready
    let switchedAt = 0; // the first request of session v2 is numbered above this one
    const r = await withCollector(
      {
        ports: [port],
        http: { capture_headers: ['x-session', 'x-tenant', 'x-served-session', 'x-session-n', 'x-tenant-n', 'x-served-session-n', 'content-type'] },
      },
      async () => {
        lastBeforeReady = done.length + 1; // at most one request in flight
        await until('40 requests after attach', () => alive() && done.length >= lastBeforeReady + 40);
        switchedAt = done.length + 1;
        c.stdin!.write('switch v2\n');
        await until('30 requests of session v2', () => alive() && done.filter((d) => d.session === 'v2').length >= 30);
        c.stdin!.write('switch v3 n\n');
        await until('30 requests of session v3', () => alive() && done.filter((d) => d.session === 'v3').length >= 30);
        c.stdin!.write('stop\n');
        await until('the client to exit', () => c.exitCode !== null);
        assert.equal(c.exitCode, 0, clientErr);
      },
    );
    assert.equal(r.exitCode, 0, r.stderr);
    const byI = new Map(done.map((d) => [d.i, d]));
    for (const d of done) {
      assert.equal(d.status, 200);
      assert.equal(d.body, `ok:${d.path}`);
    }
    const firstV2 = done.find((d) => d.session === 'v2')!.i;
    assert.ok(firstV2 > switchedAt - 1 && firstV2 <= switchedAt + 1, `${firstV2} vs ${switchedAt}`);
    const firstV3 = done.find((d) => d.session === 'v3')!.i;
    const last = done[done.length - 1]!.i;

    const servers = spansOf(r.spans, SERVER);
    const clients = spansOf(r.spans, CLIENT);
    assert.ok(servers.every((s) => s.resource['process.pid'] === server!.pid));
    assert.ok(clients.every((s) => s.resource['process.pid'] === c.pid));

    // Nothing decoded is wrong: each span names a request really made, with that request's values,
    // or the field is absent and counted unknown with its marker.
    const seen = { server: new Map<number, FlatSpan>(), client: new Map<number, FlatSpan>() };
    let unknownSpans = 0;
    for (const [kind, spans] of [
      ['server', servers],
      ['client', clients],
    ] as const) {
      for (const s of spans) {
        const a = s.attributes;
        const unknown = Number(a['tcpsniff.h2.unknown_headers'] ?? 0);
        const markers = (a['tcpsniff.h2.unknown_fields'] ?? []) as string[];
        assert.equal(markers.length, Math.min(unknown, 16), dump([s]));
        for (const m of markers) assert.match(m, MARKER, dump([s]));
        if (unknown > 0) unknownSpans++;
        assert.equal(a['network.protocol.version'], '2');
        assert.equal(s.name, 'GET', dump([s]));
        const target = kind === 'server' ? (a['url.path'] as string | undefined) : (a['url.full'] as string | undefined);
        assert.ok(target !== undefined, `every :path is a literal in this traffic (nghttp2 never indexes :path): ${dump([s])}`);
        const i = Number(/\/r\/(\d+)$/.exec(target)?.[1]);
        const d = byI.get(i);
        assert.ok(d, `${kind} span for a request never made: ${target}`);
        assert.ok(!seen[kind].has(i), `two ${kind} spans for ${target}`);
        seen[kind].set(i, s);
        // The exchange in flight at the attach may be half-seen (reported incomplete); all later ones are complete.
        if (i > lastBeforeReady + 1 || a['tcpsniff.incomplete'] === undefined) {
          assert.equal(a['tcpsniff.incomplete'], undefined, `/r/${i} (attach before /r/${lastBeforeReady + 1}): ${dump([s])}`);
          assert.equal(a['http.response.status_code'], 200, dump([s]));
        }
        if (kind === 'client') {
          // url.full holds the authority: right, or (unknown) the server endpoint — never another request's.
          assert.ok(
            target === `http://${d.authority}${d.path}` || (unknown > 0 && target === `http://127.0.0.1:${port}${d.path}`),
            `${target} for ${JSON.stringify(d)}`,
          );
        }
        const one = (k: string, want: string) => {
          const v = a[k];
          const w = k.startsWith('http.') ? [want] : want; // captured headers are string arrays
          assert.ok(
            v === undefined ? unknown > 0 : JSON.stringify(v) === JSON.stringify(w),
            `${kind} ${d.path} ${k}=${JSON.stringify(v)}, want ${want} (unknown ${unknown})`,
          );
        };
        one(`http.request.header.x-session${d.suffix}`, d.session);
        one(`http.request.header.x-tenant${d.suffix}`, `tenant-${d.session}`);
        one(`http.response.header.x-served-session${d.suffix}`, d.session);
        one('http.response.header.content-type', `text/plain; s=${d.session}`);
        one('user_agent.original', `late-client/${d.session}`);
        if (d.session === 'v2') {
          // New values, inserted anew, but nghttp2 refers to the names of the pre-attach entries:
          // x-session, x-tenant and x-served-session stay unknown (marked; their values are never
          // exported, not even as markers); every field with a static-table name decodes.
          assert.equal(unknown, 3, `v2 request ${d.i}: ${dump([s])}`);
          assert.ok(!JSON.stringify(markers).includes('v2'), JSON.stringify(markers));
          assert.equal(a['user_agent.original'], 'late-client/v2');
          assert.deepEqual(a['http.response.header.content-type'], ['text/plain; s=v2']);
          if (kind === 'client') assert.equal(target, `http://localhost:${port}${d.path}`);
        }
        if (d.session === 'v3') assert.equal(unknown, 0, `after the re-send with new names, request ${d.i} decodes fully: ${dump([s])}`);
      }
    }
    // The pre-attach entries were really referred to, and marked.
    assert.ok(unknownSpans > 0, 'some requests after attach referred to pre-attach entries');
    // Spans for the requests made after attach: every one of them, on both sides.
    for (let i = lastBeforeReady + 1; i <= last; i++) {
      assert.ok(seen.server.has(i), `SERVER span for /r/${i} (attached before /r/${lastBeforeReady + 1}; ${servers.length} spans)`);
      assert.ok(seen.client.has(i), `CLIENT span for /r/${i} (${clients.length} spans)`);
    }
    console.log(
      `# ${done.length} requests, attach before /r/${lastBeforeReady + 1}, switches at /r/${firstV2} and /r/${firstV3}, spans ${servers.length}+${clients.length}, with unknown fields ${unknownSpans}`,
    );
  } finally {
    if (client && client.exitCode === null) client.kill('SIGKILL');
    await stop(server);
  }
});

test("attached to Go's h2c (1 MiB SETTINGS_MAX_FRAME_SIZE, not seen): 17 KB+ POST bodies and GETs in large frames give right spans on both sides", async () => {
  const bin = await goH2c();
  const port = await freePort();
  let server: ChildProcess | undefined;
  let client: ChildProcess | undefined;
  try {
    server = await startServer(bin, ['server', String(port)], '127.0.0.1', port);
    client = spawn(bin, ['client', String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const c = client;
    const { request, done } = lineClient<{ n: number; status: number; body: number | string }>(c);
    // The connection is up and has carried large frames before the collector starts.
    for (const cmd of ['get 100', 'post 20000', 'get 30000']) await request(cmd);
    const before = done.length;
    const after = ['post 17000', 'get 10', 'post 40000', 'get 50000', 'post 100', 'get 200000', 'post 300000', 'missing', 'post 17500', 'get 20'];
    const r = await withCollector({ ports: [port] }, async () => {
      for (const cmd of after) await request(cmd);
    });
    // Nothing was in flight at the attach: nothing is skipped, however large the frames.
    assertNoDrops(r);
    after.forEach((cmd, i) => {
      const [what, n] = cmd.split(' ');
      const got = done[before + i]!;
      assert.deepEqual([got.status, got.body], what === 'post' ? [201, n] : what === 'get' ? [200, Number(n)] : [404, 9], cmd);
    });
    for (const kind of [SERVER, CLIENT]) {
      const spans = spansOf(r.spans, kind);
      const byN = new Map<number, FlatSpan>();
      for (const s of spans) {
        const target = String(s.attributes[kind === SERVER ? 'url.query' : 'url.full']);
        const n = Number(/i=(\d+)$/.exec(target)?.[1]);
        assert.ok(n > before && n <= before + after.length, `${kind} span for a request made before the attach, or unnamed: ${dump([s])}`);
        assert.ok(!byN.has(n), `two spans for request ${n}`);
        byN.set(n, s);
      }
      after.forEach((cmd, i) => {
        const s = byN.get(before + 1 + i);
        const where = `${kind === SERVER ? 'SERVER' : 'CLIENT'} ${cmd}`;
        assert.ok(s, `${where}: no span (${spans.length} spans)\n${r.stderr}`);
        const a = s.attributes;
        const [what, n] = cmd.split(' ');
        assert.equal(a['tcpsniff.incomplete'], undefined, `${where}: ${dump([s])}`);
        assert.equal(a['network.protocol.version'], '2', where);
        assert.equal(s.name, what === 'post' ? 'POST' : 'GET', where);
        const path = what === 'post' ? '/echo-size' : what === 'get' ? `/p/${n}` : '/missing';
        if (kind === SERVER) assert.equal(a['url.path'], path, where);
        else assert.match(String(a['url.full']), new RegExp(`^http://127\\.0\\.0\\.1:${port}${path}\\?i=`), where);
        // The status and the body sizes are exact (a 201 inserted before the attach may be unknown: absent, never wrong).
        const status = what === 'post' ? 201 : what === 'get' ? 200 : 404;
        assert.ok(
          a['http.response.status_code'] === status || (a['http.response.status_code'] === undefined && Number(a['tcpsniff.h2.unknown_headers']) > 0),
          `${where}: ${dump([s])}`,
        );
        assert.equal(a['http.request.body.size'], what === 'post' ? Number(n) : undefined, where);
        assert.equal(a['http.response.body.size'], what === 'post' ? n!.length : what === 'get' ? Number(n) : 9, where);
        for (const m of (a['tcpsniff.h2.unknown_fields'] ?? []) as string[]) assert.match(m, MARKER, where);
      });
    }
    c.stdin!.end();
    await until('the client to exit', () => c.exitCode !== null);
  } finally {
    if (client && client.exitCode === null) client.kill('SIGKILL');
    await stop(server);
  }
});

// grpcio indexes :path (unknown after the attach: the method cannot be named); grpc-js (nghttp2)
// sends :path as a literal. Both index content-type.
for (const [name, serverCmd, clientCmd, pathKnown] of [
  ['grpcio server and client', [PYTHON_PEERS, 'grpcio-server.py'], [PYTHON_PEERS, 'grpcio-client.py'], false],
  ['grpc-js server and client', [process.execPath, 'grpc-server.js'], [process.execPath, 'grpc-late-client.js'], true],
] as const) {
  test(`gRPC channel opened before the collector (${name}): rpc.system=grpc from the message framing, marked; never an unnamed POST`, async () => {
    const port = await freePort();
    let server: ChildProcess | undefined;
    let client: ChildProcess | undefined;
    try {
      server = await startServer(serverCmd[0], [path.join(FIX, serverCmd[1]), String(port)], '127.0.0.1', port);
      client = spawn(clientCmd[0], [path.join(FIX, clientCmd[1]), String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
      const { request, done } = lineClient<{ n: number; code: number; value?: string | number }>(client);
      // The channel's HPACK tables learn :path, content-type, te... before the collector starts.
      for (const cmd of ['unary a', 'expand 2', 'unary b']) await request(cmd);
      const after = ['unary hello', 'expand 3', 'unary again'];
      const r = await withCollector({ ports: [port] }, async () => {
        for (const cmd of after) await request(cmd);
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.deepEqual(
        done.slice(3).map((d) => [d.code, d.value]),
        [
          [0, 'hello'],
          [0, 3],
          [0, 'again'],
        ],
      );
      for (const kind of [SERVER, CLIENT]) {
        const spans = spansOf(r.spans, kind).sort((a, b) => Number(a.start - b.start));
        assert.equal(spans.length, 3, dump(r.spans));
        spans.forEach((s, i) => {
          const a = s.attributes;
          const where = `${kind === SERVER ? 'SERVER' : 'CLIENT'} ${after[i]}: ${dump([s])}`;
          assert.equal(a['rpc.system'], 'grpc', where);
          assert.equal(a['rpc.system.name'], 'grpc', where);
          assert.equal(a['http.request.method'], undefined, where);
          assert.equal(a['tcpsniff.incomplete'], undefined, where);
          assert.equal(a['rpc.grpc.request.message_count'], 1, where);
          assert.equal(a['rpc.grpc.response.message_count'], i === 1 ? 3 : 1, where);
          // The content-type referred to an entry from before the attach: recognised by the
          // framing, and said so; the method named only when the path is known.
          assert.equal(a['tcpsniff.grpc.recognized_by'], 'framing', where);
          assert.ok(Number(a['tcpsniff.h2.unknown_headers']) > 0, where);
          const method = `tcpsniff.test.Echo/${i === 1 ? 'Expand' : 'Unary'}`;
          assert.equal(s.name, pathKnown ? method : 'grpc', where);
          assert.equal(a['rpc.method'], pathKnown ? method : '_OTHER', where);
        });
      }
      client.stdin!.end();
      await until('the client to exit', () => client!.exitCode !== null);
    } finally {
      if (client && client.exitCode === null) client.kill('SIGKILL');
      await stop(server);
    }
  });
}
