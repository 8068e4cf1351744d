// Garbage, truncated and hostile input: the processor never throws, never holds more than its
// caps, and counts what it dropped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaptureChunk, Direction } from '../../src/core/types';
import { CLIENT_META, Conn, SERVER_META, makeProcessor, prng } from './http-fixtures';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** Feeds `total` bytes produced by `gen` in 64 KiB chunks, checking the caps after every batch. */
function flood(h: ReturnType<typeof makeProcessor>, c: Conn, dir: Direction, prefix: string, gen: (i: number) => Buffer, total: number, cap: number): void {
  h.proc.consumeChunks([c.data(dir, prefix, 1n)]);
  let sent = 0;
  let i = 0;
  while (sent < total) {
    const batch: CaptureChunk[] = [];
    for (let k = 0; k < 16 && sent < total; k++, i++) {
      const b = gen(i);
      batch.push(c.data(dir, b, BigInt(2 + i)));
      sent += b.length;
    }
    h.proc.consumeChunks(batch);
    const held = h.proc.bufferedBytes();
    assert.ok(held <= cap, `held ${held} bytes after ${sent} bytes, cap ${cap}`);
  }
  assert.equal(h.proc.stats()['errors'], undefined, 'no internal error');
}

test('hostile: 50 MB header flood stays under max_header_bytes and is counted', () => {
  const h = makeProcessor({ max_header_bytes: '16KiB' });
  const c = new Conn(SERVER_META);
  const line = Buffer.from('X-Flood: ' + 'a'.repeat(50) + '\r\n'.repeat(1));
  const block = Buffer.alloc(CHUNK);
  for (let o = 0; o + line.length <= CHUNK; o += line.length) line.copy(block, o);
  flood(h, c, 'ingress', 'GET / HTTP/1.1\r\n', () => block, 50 * MiB, 16 * 1024 + 64);
  const st = h.proc.stats();
  assert.ok((st['drops.too_large'] ?? 0) >= 1, JSON.stringify(st));
  assert.ok((st['drops.resync_bytes'] ?? 0) > 40 * MiB);
  // The over-large request is reported once (synchronised connection), not once per 16 KiB.
  h.proc.consumeChunks([c.data('egress', 'HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n', 99999n)]);
  const spans = h.spans();
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.attributes['tcpsniff.incomplete'], 'too_large');
  assert.equal(spans[0]!.attributes['http.response.status_code'], 431);
});

test('hostile: a flood of request lines (each a new never-ending head) stays bounded', () => {
  const h = makeProcessor({ max_header_bytes: '4KiB' });
  const c = new Conn(SERVER_META);
  const line = Buffer.from('GET /again HTTP/1.1\r\n');
  const block = Buffer.alloc(CHUNK);
  for (let o = 0; o + line.length <= CHUNK; o += line.length) line.copy(block, o);
  flood(h, c, 'ingress', '', () => block, 20 * MiB, 4 * 1024 + 64);
  assert.ok(h.proc.stats()['drops.too_large']! >= 1);
  assert.ok(h.spans().length <= 1, `spans: ${h.spans().length}`);
});

test('hostile: one enormous header line without a line feed', () => {
  const h = makeProcessor();
  const c = new Conn(CLIENT_META);
  const block = Buffer.alloc(CHUNK, 0x41);
  flood(h, c, 'egress', 'GET / HTTP/1.1\r\nX-Long: ', () => block, 50 * MiB, 64 * 1024 + 64);
  assert.ok(h.proc.stats()['drops.too_large']! >= 1);
});

test('hostile: huge Content-Length bodies are counted, never held (capture on, capped)', () => {
  const h = makeProcessor({ capture_bodies: true, max_body_bytes: '1KiB' });
  const c = new Conn(SERVER_META);
  const block = Buffer.alloc(CHUNK, 0x62);
  flood(h, c, 'ingress', 'POST / HTTP/1.1\r\nContent-Length: 9007199254740991\r\n\r\n', () => block, 50 * MiB, 1024 + 64);
  h.proc.consumeChunks([c.data('egress', 'HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n', 1n << 40n), c.close(1n << 41n)]);
  const [s] = h.spans();
  assert.equal(s!.attributes['http.request.body.size'], 50 * MiB);
  assert.equal((s!.attributes['http.request.body.content'] as string).length, 1024);
  assert.equal(s!.attributes['http.request.body.content.truncated'], true);
  assert.equal(s!.attributes['tcpsniff.incomplete'], 'closed');
  // Content-Length beyond 2^53 or not a number is malformed, not a crash.
  const h2 = makeProcessor();
  const c2 = new Conn(SERVER_META);
  h2.proc.consumeChunks([
    c2.data('ingress', 'POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nxx', 1n),
    c2.data('egress', 'HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n', 2n),
  ]);
  assert.equal(h2.spans()[0]!.attributes['tcpsniff.incomplete'], 'malformed');
});

test('hostile: invalid chunk sizes and endless chunk extensions', () => {
  const h = makeProcessor();
  const c = new Conn(CLIENT_META);
  const bad = Buffer.from('zz\r\n'.repeat(CHUNK / 4));
  h.proc.consumeChunks([c.data('egress', 'GET / HTTP/1.1\r\n\r\n', 1n)]);
  flood(h, c, 'ingress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', () => bad, 10 * MiB, 64 * 1024);
  assert.equal(h.proc.stats()['drops.bad_chunk'], 1);
  const h2 = makeProcessor();
  const c2 = new Conn(CLIENT_META);
  const ext = Buffer.alloc(CHUNK, 0x3b); // ';;;;' forever
  h2.proc.consumeChunks([c2.data('egress', 'GET / HTTP/1.1\r\n\r\n', 1n)]);
  flood(h2, c2, 'ingress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5', () => ext, 10 * MiB, 8 * 1024);
  assert.equal(h2.spans()[0]!.attributes['tcpsniff.incomplete'], 'malformed');
});

test('hostile: random garbage, null bytes, random cuts, holes, overlaps: no throw, bounded', () => {
  const pieces = [
    'GET / HTTP/1.1\r\n',
    'HTTP/1.1 200 OK\r\n',
    'Content-Length: 5\r\n',
    'Content-Length: -1\r\n',
    'Transfer-Encoding: chunked\r\n',
    'Upgrade: websocket\r\n',
    'CONNECT a:1 HTTP/1.1\r\n',
    'HTTP/1.1 101 Switching\r\n',
    'HTTP/1.1 100 Continue\r\n',
    '\r\n',
    '\n',
    '0\r\n',
    'ffffffffffffffff\r\n',
    '\x00\x00\x00',
    'HEAD / HTTP/1.0\r\n',
    'traceparent: 00-zz\r\n',
  ];
  for (let seed = 1; seed <= 40; seed++) {
    const r = prng(seed);
    const h = makeProcessor({ max_header_bytes: '2KiB', max_pending_requests: 4, max_connections: 8, capture_bodies: seed % 2 === 0 });
    for (let round = 0; round < 30; round++) {
      const batch: CaptureChunk[] = [];
      const conns = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => new Conn({ ...(i % 2 ? SERVER_META : CLIENT_META), connId: `s${seed}-c${(i + round) % 12}` }));
      for (let k = 0; k < 40; k++) {
        const c = conns[Math.floor(r() * conns.length)]!;
        const dir: Direction = r() < 0.5 ? 'egress' : 'ingress';
        let payload: Buffer;
        const kind = r();
        if (kind < 0.5) {
          let s = '';
          for (let j = 0; j < 1 + r() * 6; j++) s += pieces[Math.floor(r() * pieces.length)];
          payload = Buffer.from(s, 'latin1');
        } else {
          payload = Buffer.alloc(Math.floor(r() * 3000));
          for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(r() * 256);
        }
        const cut = Math.floor(r() * payload.length);
        const roll = r();
        if (roll < 0.05) c.skip(dir, Math.floor(r() * 500));
        const chunk = c.data(dir, payload.subarray(0, cut), BigInt(round * 100 + k), roll > 0.95 ? Math.floor(r() * 100) : 0);
        if (roll > 0.9 && roll <= 0.95) chunk.offset = Math.max(0, chunk.offset - Math.floor(r() * 50)); // overlap
        batch.push(chunk);
        if (r() < 0.03) batch.push(c.close(BigInt(round * 100 + k)));
      }
      // Shuffle a little (out of order within the batch).
      for (let k = 0; k < 5; k++) {
        const a = Math.floor(r() * batch.length);
        const b = Math.floor(r() * batch.length);
        [batch[a], batch[b]] = [batch[b]!, batch[a]!];
      }
      assert.doesNotThrow(() => h.proc.consumeChunks(batch));
      assert.ok(h.proc.trackedConnections <= 8);
      // Per connection: 2 reorder windows + heads/paused/detection (2 KiB each) + bodies.
      assert.ok(h.proc.bufferedBytes() <= 8 * (2 * 256 * 1024 + 6 * 2048 + 4 * 2 * 64 * 1024));
    }
    h.proc.sweep(performance.now() + 10 * 60_000);
    assert.equal(h.proc.stats()['errors'], undefined, `internal errors with seed ${seed}`);
    assert.equal(h.proc.trackedConnections, 0);
    for (const s of h.spans()) {
      assert.match(s.traceId, /^[0-9a-f]{32}$/);
      assert.ok(s.endTimeUnixNano >= s.startTimeUnixNano);
      assert.ok(typeof s.name === 'string' && s.name.length > 0);
    }
  }
});

test('hostile: many connections are bounded by max_connections with evictions counted', () => {
  const h = makeProcessor({ max_connections: 100 });
  for (let i = 0; i < 5000; i++) {
    const c = new Conn({ ...SERVER_META, connId: `conn-${i}` });
    h.proc.consumeChunks([c.data('ingress', 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', BigInt(i))]);
  }
  assert.equal(h.proc.trackedConnections, 100);
  assert.equal(h.proc.stats()['connections.evicted'], 4900);
  assert.equal(h.spans().length, 4900); // each evicted in-flight request is reported
});

test('hostile: requests without responses are capped per connection', () => {
  const h = makeProcessor({ max_pending_requests: 16 });
  const c = new Conn(SERVER_META);
  const reqs = Buffer.from('GET / HTTP/1.1\r\n\r\n'.repeat(10_000));
  h.proc.consumeChunks([c.data('ingress', reqs, 1n)]);
  assert.equal(h.proc.stats()['drops.pending_overflow'], 10_000 - 16);
  assert.equal(h.spans().length, 10_000 - 16);
  assert.ok(h.proc.bufferedBytes() < 1024);
});

test('hostile: tiny chunks (one byte each) for a long start line and a long header stay bounded', () => {
  const h = makeProcessor({ max_header_bytes: '16KiB' });
  const c = new Conn(SERVER_META);
  const text = `GET /${'p'.repeat(8000)} HTTP/1.1\r\nX-Big: ${'v'.repeat(7000)}\r\n\r\n`;
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 64) {
    const batch: CaptureChunk[] = [];
    for (let j = i; j < Math.min(i + 64, bytes.length); j++) batch.push(c.data('ingress', bytes.subarray(j, j + 1), BigInt(j)));
    h.proc.consumeChunks(batch);
    assert.ok(h.proc.bufferedBytes() <= 16 * 1024);
  }
  h.proc.consumeChunks([c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 1n << 32n)]);
  const [s] = h.spans();
  assert.equal(s!.attributes['url.path'], `/${'p'.repeat(8000)}`);
  assert.equal(s!.startTimeUnixNano, 0n);
  assert.equal(h.proc.stats()['errors'], undefined);
});
