// HTTP/2 and gRPC through the whole processor: real Node http2 and grpc-js traffic recorded
// in-process (identical spans however the bytes are split), mid-stream attach (unknown dynamic
// entries marked, later requests decoded fully), SETTINGS_HEADER_TABLE_SIZE and its ACK,
// RST_STREAM / GOAWAY / gaps, and hostile input staying bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { CaptureChunk, SpanRecord } from '../../src/core/types';
import { unknownMarker } from '../../src/processors/http/h2/hpack';
import { CLIENT_META, Conn, SERVER_META, makeProcessor, prng } from './http-fixtures';
import { HpackEncoder, chunksOf, frame, grpcMessage, recordingProxy, settings, type Recorded } from './helpers/h2';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const T = (ms: number) => 1_700_000_000_000_000_000n + BigInt(ms) * 1_000_000n;
const byStream = (a: SpanRecord, b: SpanRecord) => Number(a.attributes['tcpsniff.h2.stream_id']) - Number(b.attributes['tcpsniff.h2.stream_id']);
const zeroDrops = (st: Record<string, number>) => Object.entries(st).filter(([k, v]) => k.startsWith('drops.') && v !== 0);

function replay(chunks: CaptureChunk[], close = true) {
  const h = makeProcessor();
  h.proc.consumeChunks(chunks);
  if (close) h.proc.consumeChunks([{ ...chunks[0]!, kind: 'close', data: Buffer.alloc(0), offset: 0 }]);
  return { spans: h.spans().sort(byStream), stats: h.proc.stats(), proc: h.proc };
}

/** The same chunks re-split at random points (offsets kept consistent). */
function resplit(chunks: CaptureChunk[], seed: number): CaptureChunk[] {
  const rnd = prng(seed);
  const out: CaptureChunk[] = [];
  for (const c of chunks) {
    let p = 0;
    while (p < c.data.length) {
      const n = 1 + Math.floor(rnd() * 40);
      out.push({ ...c, offset: c.offset + p, data: c.data.subarray(p, p + n) });
      p += n;
    }
  }
  return out;
}

const view = (s: SpanRecord) => ({
  name: s.name,
  kind: s.kind,
  attrs: s.attributes,
  status: s.status,
  events: s.events.length,
  start: s.startTimeUnixNano,
  end: s.endTimeUnixNano,
});

async function recordHttp2(): Promise<Recorded> {
  const srv = http2.createServer();
  srv.on('stream', (stream, headers) => {
    let n = 0;
    stream.on('data', (d: Buffer) => (n += d.length));
    stream.on('end', () => {
      stream.respond({ ':status': headers[':path'] === '/missing' ? 404 : 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'x-n': String(n) }));
      stream.end(`got ${n}`);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const px = await recordingProxy((srv.address() as { port: number }).port);
  const session = http2.connect(`http://127.0.0.1:${px.port}`);
  const one = (path: string, body?: Buffer) =>
    new Promise<void>((res, rej) => {
      const r = session.request({ ':method': body ? 'POST' : 'GET', ':path': path, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
      r.on('data', () => {});
      r.on('end', () => res());
      r.on('error', rej);
      r.end(body);
    });
  await Promise.all([one('/a?x=1'), one('/b', Buffer.from('hello')), one('/c', Buffer.alloc(50_000, 1)), one('/missing')]);
  session.close();
  await new Promise((r) => setTimeout(r, 50));
  await px.close();
  await new Promise<void>((r) => srv.close(() => r()));
  assert.equal(px.conns.length, 1);
  return px.conns[0]!;
}

test('real Node http2 traffic: one span per stream with exact attributes, identical however the bytes are split', async () => {
  const rec = await recordHttp2();
  for (const side of ['server', 'client'] as const) {
    const meta = side === 'server' ? SERVER_META : CLIENT_META;
    const chunks = chunksOf(rec, side, meta);
    const r = replay(chunks);
    assert.deepEqual(zeroDrops(r.stats), []);
    assert.equal(r.stats['connections.http/2'], 1);
    assert.equal(r.spans.length, 4, JSON.stringify(r.stats));
    assert.deepEqual(
      r.spans.map((s) => s.name),
      ['GET', 'POST', 'POST', 'GET'],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['http.response.status_code']),
      [200, 200, 200, 404],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['http.request.body.size']),
      [undefined, 5, 50_000, undefined],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['http.response.body.size']),
      [5, 5, 9, 5],
    );
    for (const s of r.spans) {
      assert.equal(s.attributes['network.protocol.version'], '2');
      assert.equal(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal(s.parentSpanId, '00f067aa0ba902b7');
      assert.equal(s.kind, side === 'server' ? 2 : 3);
      assert.ok(s.endTimeUnixNano > s.startTimeUnixNano);
    }
    if (side === 'server') {
      assert.deepEqual(
        r.spans.map((s) => s.attributes['url.path']),
        ['/a', '/b', '/c', '/missing'],
      );
      assert.equal(r.spans[0]!.attributes['url.query'], 'x=1');
    } else {
      assert.match(String(r.spans[0]!.attributes['url.full']), /^http:\/\/127\.0\.0\.1:\d+\/a\?x=1$/);
      assert.equal(r.spans[3]!.status.code, 2);
    }
    for (const seed of [1, 2, 3]) {
      const again = replay(resplit(chunks, seed));
      assert.deepEqual(again.spans.map(view), r.spans.map(view), `seed ${seed}`);
    }
  }
});

test('real grpc-js traffic: unary, client/server streaming, bidi and an error status', async () => {
  const id = (b: Buffer) => b;
  const m = (name: string, requestStream: boolean, responseStream: boolean) => ({
    path: `/demo.v1.Echo/${name}`,
    requestStream,
    responseStream,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  });
  const def = {
    Unary: m('Unary', false, false),
    Up: m('Up', true, false),
    Down: m('Down', false, true),
    Both: m('Both', true, true),
    Fail: m('Fail', false, false),
  };
  const server = new grpc.Server();
  server.addService(def, {
    Unary: (call: any, cb: any) => cb(null, call.request),
    Up: (call: any, cb: any) => {
      let n = 0;
      call.on('data', () => n++);
      call.on('end', () => cb(null, Buffer.from(String(n))));
    },
    Down: (call: any) => {
      for (let i = 0; i < 3; i++) call.write(Buffer.from('abc'));
      call.end();
    },
    Both: (call: any) => {
      call.on('data', (d: Buffer) => call.write(d));
      call.on('end', () => call.end());
    },
    Fail: (_call: any, cb: any) => cb({ code: grpc.status.DEADLINE_EXCEEDED, details: 'late' }),
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  const px = await recordingProxy(port);
  const Client = grpc.makeGenericClientConstructor(def as any, 'Echo');
  const client: any = new Client(`127.0.0.1:${px.port}`, grpc.credentials.createInsecure());
  await new Promise((r) => client.Unary(Buffer.from('hi'), r));
  await new Promise((r) => {
    const c = client.Up(r);
    c.write(Buffer.from('1'));
    c.write(Buffer.from('22'));
    c.end();
  });
  await new Promise((r) => {
    const c = client.Down(Buffer.from('x'));
    c.on('data', () => {});
    c.on('end', r);
  });
  await new Promise((r) => {
    const c = client.Both();
    c.on('data', () => {});
    c.on('end', r);
    c.write(Buffer.from('ping'));
    c.end();
  });
  await new Promise((r) => client.Fail(Buffer.from('?'), r));
  client.close();
  server.forceShutdown();
  await new Promise((r) => setTimeout(r, 50));
  await px.close();
  const rec = px.conns[0]!;
  for (const side of ['server', 'client'] as const) {
    const r = replay(chunksOf(rec, side, side === 'server' ? SERVER_META : CLIENT_META));
    assert.deepEqual(zeroDrops(r.stats), []);
    assert.deepEqual(
      r.spans.map((s) => s.name),
      ['Unary', 'Up', 'Down', 'Both', 'Fail'].map((n) => `demo.v1.Echo/${n}`),
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['rpc.grpc.request.message_count']),
      [1, 2, 1, 1, 1],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['rpc.grpc.response.message_count']),
      [1, 1, 3, 1, 0],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['rpc.grpc.response.message_bytes']),
      [2, 1, 9, 4, 0],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['rpc.status_code']),
      ['OK', 'OK', 'OK', 'OK', 'DEADLINE_EXCEEDED'],
    );
    assert.deepEqual(
      r.spans.map((s) => s.attributes['rpc.grpc.status_code']),
      [0, 0, 0, 0, 4],
    );
    assert.deepEqual(
      r.spans.map((s) => s.events.length),
      [2, 3, 4, 2, 1],
    );
    // DEADLINE_EXCEEDED is an error on both sides.
    assert.deepEqual(
      r.spans.map((s) => s.status.code),
      [0, 0, 0, 0, 2],
    );
    const ev = r.spans[2]!.events;
    assert.deepEqual(
      ev.map((e) => e.attributes['rpc.message.type']),
      side === 'client' ? ['SENT', 'RECEIVED', 'RECEIVED', 'RECEIVED'] : ['RECEIVED', 'SENT', 'SENT', 'SENT'],
    );
    assert.deepEqual(
      ev.map((e) => e.attributes['rpc.message.uncompressed_size']),
      [1, 3, 3, 3],
    );
  }
});

/** A synthetic connection: client and server HPACK encoders and frame writers. */
class H2Conn {
  readonly c = new HpackEncoder();
  readonly s = new HpackEncoder();
  readonly chunks: CaptureChunk[] = [];
  private t = 0;
  constructor(readonly conn = new Conn({ ...SERVER_META, role: 'unknown' })) {}
  /** Client bytes: ingress for the server process. */
  client(b: Buffer): void {
    this.chunks.push(this.conn.data('ingress', b, T(this.t++)));
  }
  server(b: Buffer): void {
    this.chunks.push(this.conn.data('egress', b, T(this.t++)));
  }
}

test('mid-stream attach: fields from before the attach are marked unknown, never guessed; later requests decode fully', () => {
  const x = new H2Conn();
  // Before the collector attached (never captured): request 1 and its response inserted entries.
  x.c.encode([
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/orders/1'],
    [':authority', 'api.local'],
    ['user-agent', 'app/1'],
  ]);
  x.s.encode([
    [':status', '200'],
    ['content-type', 'application/json'],
    ['x-srv', 'a'],
  ]);
  // Captured from here (offsets start at 0: the first byte the collector saw).
  const wu = frame(8, 0, 0, Buffer.from([0, 0, 1, 0]));
  const req2 = x.c.encode([
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/orders/1'],
    [':authority', 'api.local'],
    ['user-agent', 'app/1'],
    ['x-req', '2'],
  ]);
  x.client(Buffer.concat([frame(1, 5, 3, req2), wu]));
  x.server(
    Buffer.concat([
      frame(
        1,
        4,
        3,
        x.s.encode([
          [':status', '200'],
          ['content-type', 'application/json'],
          ['x-srv', 'a'],
        ]),
      ),
      frame(0, 1, 3, Buffer.from('{}')),
    ]),
  );
  // Request 3 re-sends new values: learned.
  const fields3: Array<[string, string]> = [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/orders/2'],
    [':authority', 'api2.local'],
    ['user-agent', 'app/2'],
  ];
  x.client(Buffer.concat([frame(1, 5, 5, x.c.encode(fields3)), wu]));
  x.server(
    Buffer.concat([
      frame(
        1,
        4,
        5,
        x.s.encode([
          [':status', '201'],
          ['content-type', 'text/plain'],
        ]),
      ),
      frame(0, 1, 5, Buffer.from('ok')),
    ]),
  );
  // Request 4 repeats request 3: only references to entries learned after the attach.
  const req4 = x.c.encode(fields3);
  assert.ok(req4.length <= 6, 'fully indexed');
  x.client(frame(1, 5, 7, req4));
  x.server(
    Buffer.concat([
      frame(
        1,
        4,
        7,
        x.s.encode([
          [':status', '201'],
          ['content-type', 'text/plain'],
        ]),
      ),
      frame(0, 1, 7, Buffer.from('ok')),
    ]),
  );
  const r = replay(x.chunks);
  assert.equal(r.stats['h2.midstream'], 1);
  assert.deepEqual(zeroDrops(r.stats), []);
  assert.equal(r.spans.length, 3);
  const [s2, s3, s4] = r.spans as [SpanRecord, SpanRecord, SpanRecord];
  assert.equal(s2.name, 'GET');
  assert.equal(s2.kind, 2);
  assert.equal(s2.attributes['url.path'], undefined, 'the path refers to an entry from before the attach');
  assert.equal(s2.attributes['http.response.status_code'], 200);
  assert.equal(s2.attributes['tcpsniff.h2.unknown_headers'], 5);
  // Client table before request 2: [user-agent 62, :authority 63, :path 64].
  assert.deepEqual(s2.attributes['tcpsniff.h2.unknown_fields'], [
    unknownMarker(64, 'attach'),
    unknownMarker(63, 'attach'),
    unknownMarker(62, 'attach'),
    unknownMarker(63, 'attach'), // server: content-type, then x-srv
    unknownMarker(62, 'attach'),
  ]);
  for (const s of [s3, s4]) {
    assert.equal(s.attributes['url.path'], '/orders/2');
    assert.equal(s.attributes['server.address'], 'api2.local');
    assert.equal(s.attributes['user_agent.original'], 'app/2');
    assert.equal(s.attributes['http.response.status_code'], 201);
    assert.equal(s.attributes['tcpsniff.h2.unknown_headers'], undefined);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
  }
  // A response whose request came before the attach is dropped (counted), never paired by guess.
  const y = new H2Conn();
  y.server(Buffer.concat([frame(1, 4, 1, y.s.encode([[':status', '200']])), frame(0, 1, 1, Buffer.from('x'))]));
  const ry = replay(y.chunks);
  assert.equal(ry.spans.length, 0);
  assert.equal(ry.stats['drops.h2_unpaired_stream'], 1);
});

/**
 * A server that speaks first (grpcio): SETTINGS + WINDOW_UPDATE before it reads anything, then the
 * client's preface, SETTINGS and stream 1's HEADERS in one write, then stream 3 reusing stream 1's
 * table entries.
 */
function serverFirst(x: H2Conn): void {
  x.server(Buffer.concat([settings([[4, 4194304]]), frame(8, 0, 0, Buffer.from([0, 0x3f, 0, 1]))]));
  const fields: Array<[string, string]> = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/svc.A/Call'],
    [':authority', 'h:50051'],
    ['user-agent', 'ua/1'],
  ];
  x.client(Buffer.concat([PREFACE, settings([[2, 0]]), frame(1, 5, 1, x.c.encode(fields))]));
  x.server(
    Buffer.concat([
      settings([], true),
      frame(
        1,
        5,
        1,
        x.s.encode([
          [':status', '204'],
          ['x-srv', 'a'],
        ]),
      ),
    ]),
  );
  x.client(settings([], true));
  x.client(frame(1, 5, 3, x.c.encode(fields)));
  x.server(
    frame(
      1,
      5,
      3,
      x.s.encode([
        [':status', '204'],
        ['x-srv', 'a'],
      ]),
    ),
  );
}

test('a server that speaks first, on a connection seen from its handshake: parsed from the first byte', () => {
  for (const split of [false, true]) {
    const x = new H2Conn(new Conn(SERVER_META));
    serverFirst(x);
    const r = replay(split ? resplit(x.chunks, 7) : x.chunks);
    assert.equal(r.stats['h2.midstream'], undefined);
    assert.deepEqual(zeroDrops(r.stats), []);
    assert.deepEqual(
      r.spans.map((s) => [
        s.attributes['tcpsniff.h2.stream_id'],
        s.attributes['url.path'],
        s.attributes['user_agent.original'],
        s.attributes['tcpsniff.h2.unknown_headers'],
      ]),
      [
        [1, '/svc.A/Call', 'ua/1', undefined],
        [3, '/svc.A/Call', 'ua/1', undefined],
      ],
    );
  }
  // Attached mid-connection (the role unknown), or a hole before the first byte seen: the same
  // bytes are a mid-stream attach (entries not seen stay unknown, nothing guessed).
  const lateMeta = { ...SERVER_META, role: 'unknown' as const };
  const holed = new H2Conn(new Conn(SERVER_META));
  holed.conn.skip('egress', 9);
  for (const x of [new H2Conn(new Conn(lateMeta)), holed]) {
    serverFirst(x);
    const r = replay(x.chunks);
    assert.equal(r.stats['h2.midstream'], 1);
    assert.ok(r.stats['drops.resync_bytes']! > 0);
  }
});

function prefaceConn(): H2Conn {
  const x = new H2Conn();
  x.client(Buffer.concat([PREFACE, settings([[3, 100]])]));
  x.server(Buffer.concat([settings([[3, 100]]), settings([], true)]));
  x.client(settings([], true));
  return x;
}

test('SETTINGS_HEADER_TABLE_SIZE: a size update is accepted only once the peer acknowledged the setting', () => {
  const up = (enc: HpackEncoder, n: number) => (out: number[]) => enc.sizeUpdate(out, n);
  // Acknowledged: the client's encoder may grow its table to 8192.
  const x = prefaceConn();
  x.server(settings([[1, 8192]]));
  x.client(settings([], true));
  x.client(
    frame(
      1,
      5,
      1,
      x.c.encode(
        [
          [':method', 'GET'],
          [':path', '/big'],
          [':scheme', 'http'],
        ],
        up(x.c, 8192),
      ),
    ),
  );
  x.server(frame(1, 5, 1, x.s.encode([[':status', '204']])));
  const r = replay(x.chunks);
  assert.deepEqual(zeroDrops(r.stats), []);
  assert.equal(r.spans.length, 1);
  assert.equal(r.spans[0]!.attributes['url.path'], '/big');
  // Not acknowledged yet: the same update is a decoding error (counted; the request is lost).
  const y = prefaceConn();
  y.server(settings([[1, 8192]]));
  y.client(
    frame(
      1,
      5,
      1,
      y.c.encode(
        [
          [':method', 'GET'],
          [':path', '/big'],
          [':scheme', 'http'],
        ],
        up(y.c, 8192),
      ),
    ),
  );
  const ry = replay(y.chunks);
  assert.equal(ry.stats['drops.h2_hpack_error'], 1);
  assert.equal(ry.spans.length, 0);
});

test('RST_STREAM, GOAWAY, a gap in a DATA payload and a gap in a header block', () => {
  const x = prefaceConn();
  x.client(
    frame(
      1,
      5,
      1,
      x.c.encode([
        [':method', 'GET'],
        [':path', '/slow'],
        [':scheme', 'http'],
      ]),
    ),
  );
  x.client(frame(3, 0, 1, Buffer.from([0, 0, 0, 8]))); // client cancels
  x.client(
    frame(
      1,
      5,
      5,
      x.c.encode([
        [':method', 'GET'],
        [':path', '/big'],
        [':scheme', 'http'],
      ]),
    ),
  );
  x.client(
    frame(
      1,
      5,
      7,
      x.c.encode([
        [':method', 'GET'],
        [':path', '/never'],
        [':scheme', 'http'],
      ]),
    ),
  );
  // GOAWAY: streams above 5 will not be processed.
  x.server(Buffer.concat([frame(7, 0, 0, Buffer.from([0, 0, 0, 5, 0, 0, 0, 0])), frame(1, 4, 5, x.s.encode([[':status', '200']]))]));
  // Stream 5's body: 10 bytes, 4 of them lost, framing kept.
  const data = frame(0, 1, 5, Buffer.from('0123456789'));
  x.server(data.subarray(0, 12));
  x.conn.skip('egress', 4);
  x.server(data.subarray(16));
  const r = replay(x.chunks);
  const [s1, s5, s7] = r.spans as [SpanRecord, SpanRecord, SpanRecord];
  assert.equal(r.spans.length, 3);
  assert.equal(s1.attributes['tcpsniff.incomplete'], 'reset');
  assert.equal(s1.attributes['tcpsniff.h2.reset_error'], 'CANCEL');
  assert.equal(s1.status.code, 2);
  assert.equal(s7.attributes['tcpsniff.incomplete'], 'goaway');
  assert.equal(s7.attributes['tcpsniff.h2.goaway_code'], 0);
  assert.equal(s5.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(s5.attributes['http.response.body.size'], 10);
  assert.equal(s5.attributes['tcpsniff.response.lost_bytes'], 4);

  // A gap inside a request's header block: that request is lost (counted), the HPACK context is
  // unknown afterwards, and a later request referring to an entry from before the gap is marked.
  const y = prefaceConn();
  y.client(
    frame(
      1,
      5,
      1,
      y.c.encode([
        [':method', 'GET'],
        [':path', '/one'],
        [':scheme', 'http'],
        ['x-a', '1'],
      ]),
    ),
  );
  y.server(frame(1, 5, 1, y.s.encode([[':status', '204']])));
  const block = frame(
    1,
    5,
    3,
    y.c.encode([
      [':method', 'GET'],
      [':path', '/two'],
      [':scheme', 'http'],
      ['x-b', '2'],
    ]),
  );
  y.client(block.subarray(0, 12));
  y.conn.skip('ingress', block.length - 12);
  y.client(
    Buffer.concat([
      frame(
        1,
        5,
        5,
        y.c.encode([
          [':method', 'GET'],
          [':path', '/one'],
          [':scheme', 'http'],
          ['x-c', '3'],
        ]),
      ),
      frame(8, 0, 0, Buffer.from([0, 0, 1, 0])),
    ]),
  );
  y.server(Buffer.concat([frame(1, 5, 3, y.s.encode([[':status', '204']])), frame(1, 5, 5, y.s.encode([[':status', '204']]))]));
  const ry = replay(y.chunks);
  assert.equal(ry.stats['drops.h2_lost_block'], 1);
  const paths = ry.spans.map((s) => [
    s.attributes['tcpsniff.h2.stream_id'],
    s.attributes['url.path'] ?? null,
    s.attributes['tcpsniff.h2.unknown_fields'] ?? null,
  ]);
  assert.deepEqual(paths, [
    [1, '/one', null],
    [5, null, [unknownMarker(65, 'gap')]], // ':path /one': behind x-a, and the lost block's two entries
  ]);
});

test('hostile HTTP/2: CONTINUATION floods, stream floods and junk stay bounded and never throw', () => {
  const x = prefaceConn();
  x.client(frame(1, 0, 1, Buffer.from([0x82])));
  for (let i = 0; i < 2000; i++) x.client(frame(9, 0, 1, Buffer.alloc(100, 0x82)));
  x.client(frame(9, 4, 1, Buffer.from([0x84])));
  const h = makeProcessor();
  let maxBuffered = 0;
  for (const c of x.chunks) {
    h.proc.consumeChunks([c]);
    maxBuffered = Math.max(maxBuffered, h.proc.bufferedBytes());
  }
  assert.ok(maxBuffered <= 64 * 1024 + 16 * 1024, `buffered ${maxBuffered}`);
  assert.equal(h.proc.stats()['drops.too_large'], 1);

  const y = prefaceConn();
  const enc = y.c;
  const frames: Buffer[] = [];
  for (let i = 0; i < 1100; i++)
    frames.push(
      frame(
        1,
        4,
        1 + 2 * i,
        enc.encode([
          [':method', 'POST'],
          [':path', '/x'],
          [':scheme', 'http'],
        ]),
      ),
    );
  y.client(Buffer.concat(frames));
  const ry = replay(y.chunks, false);
  assert.equal(ry.stats['drops.h2_stream_overflow'], 1100 - 1024);
  assert.equal(ry.spans.filter((s) => s.attributes['tcpsniff.incomplete'] === 'overflow').length, 1100 - 1024);

  // Random bytes after a valid preface: never throws, counted, bounded.
  const z = prefaceConn();
  const rnd = prng(5);
  for (let i = 0; i < 300; i++) {
    const b = Buffer.alloc(1 + Math.floor(rnd() * 300));
    for (let j = 0; j < b.length; j++) b[j] = rnd() < 0.4 ? 0 : Math.floor(rnd() * 256);
    if (rnd() < 0.5) z.client(b);
    else z.server(b);
  }
  const rz = replay(z.chunks);
  assert.equal(rz.stats['errors'] ?? 0, 0);
  assert.ok(rz.proc.bufferedBytes() === 0);
});

test('gRPC recognised from content-type variants; trailers-only responses carry the status', () => {
  const x = prefaceConn();
  const req = (id: number, ct: string) =>
    frame(
      1,
      4,
      id,
      x.c.encode([
        [':method', 'POST'],
        [':path', '/pkg.S/M'],
        [':scheme', 'http'],
        ['content-type', ct],
        ['te', 'trailers'],
      ]),
    );
  x.client(Buffer.concat([req(1, 'application/grpc+proto'), frame(0, 1, 1, grpcMessage(Buffer.from('abc'), true))]));
  x.server(
    frame(
      1,
      5,
      1,
      x.s.encode([
        [':status', '200'],
        ['content-type', 'application/grpc+proto'],
        ['grpc-status', '12'],
        ['grpc-message', 'unknown method'],
      ]),
    ),
  );
  x.client(Buffer.concat([req(3, 'application/json'), frame(0, 1, 3, Buffer.from('{}'))]));
  x.server(Buffer.concat([frame(1, 4, 3, x.s.encode([[':status', '200']])), frame(0, 1, 3, Buffer.from('{}'))]));
  const r = replay(x.chunks);
  const [g, j] = r.spans as [SpanRecord, SpanRecord];
  assert.equal(g.name, 'pkg.S/M');
  assert.equal(g.attributes['rpc.status_code'], 'UNIMPLEMENTED');
  assert.equal(g.attributes['rpc.grpc.request.compressed_message_count'], 1);
  assert.equal(g.events[0]!.attributes['rpc.message.compressed_size'], 3);
  assert.equal(g.status.code, 2, 'UNIMPLEMENTED is an error for a SERVER span');
  assert.equal(j.name, 'POST');
  assert.equal(j.attributes['rpc.system.name'], undefined);
});

test('gRPC recognised by its framing when the content-type refers to an entry from before the attach; anything else stays HTTP', () => {
  /** A call on a connection attached mid-stream: the request's content-type (and :path) inserted before the attach. */
  interface Call {
    reqBody: Buffer;
    resBody: Buffer;
    resFields?: Array<[string, string]>;
    trailers?: boolean;
  }
  const call = (o: Call) => {
    const x = new H2Conn();
    const pre: Array<[string, string]> = [
      [':path', '/pkg.Svc/Do'],
      ['content-type', 'application/grpc'],
    ];
    x.c.encode(pre); // never captured: fills the client's table
    x.client(Buffer.concat([frame(1, 4, 3, x.c.encode([[':method', 'POST'], [':scheme', 'http'], ...pre])), frame(0, 1, 3, o.reqBody)]));
    const end = o.trailers === false ? 1 : 0;
    const parts = [frame(1, 4, 3, x.s.encode([[':status', '200'], ...(o.resFields ?? [])])), frame(0, end, 3, o.resBody)];
    if (o.trailers !== false) parts.push(frame(1, 5, 3, x.s.encode([['grpc-status', '0']])));
    x.server(Buffer.concat(parts));
    const r = replay(x.chunks);
    assert.equal(r.spans.length, 1);
    return { s: r.spans[0]!, stats: r.stats };
  };
  const hello = grpcMessage(Buffer.from('hello'));
  const g = call({ reqBody: hello, resBody: Buffer.concat([hello, grpcMessage(Buffer.from('!'))]) });
  assert.equal(g.s.name, 'grpc');
  assert.equal(g.s.attributes['rpc.system'], 'grpc');
  assert.equal(g.s.attributes['rpc.method'], '_OTHER');
  assert.equal(g.s.attributes['tcpsniff.grpc.recognized_by'], 'framing');
  assert.equal(g.s.attributes['rpc.status_code'], 'OK');
  assert.equal(g.s.attributes['rpc.grpc.response.message_count'], 2);
  assert.equal(g.s.attributes['http.request.method'], undefined);
  assert.equal(g.stats['h2.grpc_by_framing'], 1);
  const plain: Array<[string, Call]> = [
    ['a JSON body', { reqBody: Buffer.from('{"a":1}'), resBody: hello }],
    ['a body cut inside a message', { reqBody: hello.subarray(0, 7), resBody: hello }],
    ['no trailers', { reqBody: hello, resBody: hello, trailers: false }],
    ['a known other content-type', { reqBody: hello, resBody: hello, resFields: [['content-type', 'application/octet-stream']] }],
  ];
  for (const [what, o] of plain) {
    const h = call(o);
    assert.equal(h.s.name, 'POST', what);
    assert.equal(h.s.attributes['rpc.system'], undefined, what);
    assert.equal(h.s.attributes['tcpsniff.grpc.recognized_by'], undefined, what);
    assert.equal(h.stats['h2.grpc_by_framing'], undefined, what);
  }
  // The response names it gRPC after all: recognised by content-type, no mark.
  const ct = call({ reqBody: hello, resBody: hello, resFields: [['content-type', 'application/grpc']] });
  assert.equal(ct.s.attributes['rpc.system'], 'grpc');
  assert.equal(ct.s.attributes['tcpsniff.grpc.recognized_by'], undefined);
});

test('attached inside a large DATA frame: that direction resynchronises by itself, large frames included; the other is unaffected', () => {
  const x = new H2Conn();
  x.client(Buffer.alloc(5000, 0x62)); // the tail of a DATA frame in flight at the attach
  x.server(Buffer.concat([frame(1, 4, 1, x.s.encode([[':status', '200']])), frame(0, 1, 1, Buffer.alloc(20_000, 1))]));
  const req = x.c.encode([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/up'],
    [':authority', 'h'],
  ]);
  x.client(Buffer.concat([frame(1, 4, 3, req), frame(0, 1, 3, Buffer.alloc(40_000, 2))]));
  x.server(Buffer.concat([frame(1, 4, 3, x.s.encode([[':status', '201']])), frame(0, 1, 3, Buffer.alloc(30_000, 3))]));
  const r = replay(x.chunks);
  assert.equal(r.stats['h2.midstream'], 1);
  assert.equal(r.stats['drops.resync_bytes'], 5000);
  assert.equal(r.stats['drops.h2_unpaired_stream'], 1, 'stream 1 began before the attach');
  assert.equal(r.stats['drops.malformed'] ?? 0, 0);
  assert.equal(r.spans.length, 1);
  const s = r.spans[0]!;
  assert.equal(s.attributes['url.path'], '/up');
  assert.equal(s.attributes['http.response.status_code'], 201);
  assert.equal(s.attributes['http.request.body.size'], 40_000);
  assert.equal(s.attributes['http.response.body.size'], 30_000);
  assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
});
