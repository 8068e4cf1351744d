// Bodies sent from files (sendfile): the chunks' file origin reaches the span of the exchange
// whose body the bytes are, as tcpsniff.sendfile.* attributes (HTTP/1 and HTTP/2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaptureChunk, FileOrigin, FileRangeReader, SpanRecord } from '../../src/core/types';
import { Conn, SERVER_META, makeProcessor } from './http-fixtures';
import { HpackEncoder, frame, settings } from './helpers/h2';

const RES = 'tcpsniff.sendfile.response.';
const PATH = '/srv/www/big.bin';

/** A chunk sent from `file`: `reread` is what was read again, `unread` bytes could not be. */
function fromFile(c: Conn, reread: string, unread: number, file: FileOrigin, time: bigint): CaptureChunk {
  return { ...c.data('egress', reread, time, unread), file };
}

function sendfileAttrs(span: SpanRecord): Record<string, unknown> {
  return Object.fromEntries(Object.entries(span.attributes).filter(([k]) => k.startsWith('tcpsniff.sendfile.')));
}

test('sendfile: an HTTP/1 body sent from a file in two calls carries the file, offset, bytes and what was read again', () => {
  const { proc, spans } = makeProcessor({ capture_bodies: true });
  const c = new Conn(SERVER_META);
  proc.consumeChunks([
    c.data('ingress', 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n', 2n),
    fromFile(c, 'abcdef', 0, { path: PATH, offset: 4096 }, 3n),
    // The second call continues the range; its last 2 bytes could not be read again (a gap).
    fromFile(c, 'ghij', 2, { path: PATH, offset: 4102 }, 4n),
    // The next response on the keep-alive connection is written from memory: no file attributes.
    c.data('ingress', 'GET /small HTTP/1.1\r\nHost: x\r\n\r\n', 5n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 6n),
  ]);
  const [big, small] = spans();
  assert.deepEqual(sendfileAttrs(big!), {
    [RES + 'path']: PATH,
    [RES + 'offset']: 4096,
    [RES + 'bytes']: 12,
    [RES + 'unread_bytes']: 2,
    [RES + 'capture']: 'partial',
  });
  assert.equal(big!.attributes['http.response.body.size'], 12);
  assert.equal(big!.attributes['tcpsniff.response.lost_bytes'], 2);
  assert.equal(big!.attributes['http.response.body.content'], 'abcdefghij');
  assert.equal(big!.attributes['tcpsniff.incomplete'], undefined);
  assert.deepEqual(sendfileAttrs(small!), {});
  assert.equal(small!.attributes['http.response.body.content'], 'ok');
});

test('sendfile: a body that could not be read again is a gap; two discontiguous ranges are counted', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  proc.consumeChunks([
    c.data('ingress', 'GET /gone HTTP/1.1\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 2n),
    fromFile(c, '', 100, { path: '/tmp/deleted', offset: 0 }, 3n),
    c.data('ingress', 'GET /ranges HTTP/1.1\r\n\r\n', 4n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n', 5n),
    fromFile(c, 'abc', 0, { path: '/a', offset: 10 }, 6n),
    c.data('egress', '-', 7n), // written from memory between the two ranges
    fromFile(c, 'xyz', 0, { path: '/b', offset: 0 }, 8n),
  ]);
  const [gone, ranges] = spans();
  assert.deepEqual(sendfileAttrs(gone!), {
    [RES + 'path']: '/tmp/deleted',
    [RES + 'offset']: 0,
    [RES + 'bytes']: 100,
    [RES + 'unread_bytes']: 100,
    [RES + 'capture']: 'gap',
  });
  assert.equal(gone!.attributes['tcpsniff.response.lost_bytes'], 100);
  assert.deepEqual(sendfileAttrs(ranges!), {
    [RES + 'path']: '/a',
    [RES + 'offset']: 10,
    [RES + 'bytes']: 6,
    [RES + 'ranges']: 2,
    [RES + 'capture']: 'reread',
  });
});

test('sendfile: a file chunk overlapping bytes already delivered counts only the new bytes, at their file offset', () => {
  const { proc, spans } = makeProcessor({ capture_bodies: true });
  const c = new Conn(SERVER_META);
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n';
  proc.consumeChunks([c.data('ingress', 'GET / HTTP/1.1\r\n\r\n', 1n), c.data('egress', head + 'ab', 2n)]);
  // Re-sent from offset head+0: 'ab' again, then 'cdef' (file offset 200 is the body's first byte).
  const overlap: CaptureChunk = { ...c.data('egress', 'abcdef', 3n), offset: head.length, file: { path: PATH, offset: 200 } };
  proc.consumeChunks([overlap]);
  const [s] = spans();
  assert.equal(s!.attributes['http.response.body.content'], 'abcdef');
  assert.equal(s!.attributes[RES + 'offset'], 202);
  assert.equal(s!.attributes[RES + 'bytes'], 4);
});

test('sendfile: an HTTP/2 DATA payload sent from a file lands on its stream', () => {
  const { proc, spans } = makeProcessor({ capture_bodies: true });
  const c = new Conn({ ...SERVER_META, role: 'unknown' });
  const enc = { c: new HpackEncoder(), s: new HpackEncoder() };
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  const req = (id: number, path: string) =>
    frame(
      1,
      5,
      id,
      enc.c.encode([
        [':method', 'GET'],
        [':path', path],
        [':scheme', 'http'],
      ]),
    );
  const ok = (id: number) => frame(1, 4, id, enc.s.encode([[':status', '200']]));
  const body = Buffer.from('0123456789');
  const dataHeader = frame(0, 1, 3, body).subarray(0, 9); // the frame header is written, the payload sent from the file
  proc.consumeChunks([
    c.data('ingress', Buffer.concat([preface, settings(), req(1, '/mem'), req(3, '/file')]), 1n),
    c.data('egress', Buffer.concat([settings(), settings([], true), ok(1), frame(0, 1, 1, Buffer.from('m')), ok(3), dataHeader]), 2n),
    fromFile(c, '01234567', 2, { path: PATH, offset: 0 }, 3n),
  ]);
  const byPath = new Map(spans().map((s) => [s.attributes['url.path'], s]));
  assert.deepEqual(sendfileAttrs(byPath.get('/mem')!), {});
  assert.deepEqual(sendfileAttrs(byPath.get('/file')!), {
    [RES + 'path']: PATH,
    [RES + 'offset']: 0,
    [RES + 'bytes']: 10,
    [RES + 'unread_bytes']: 2,
    [RES + 'capture']: 'partial',
  });
  assert.equal(byPath.get('/file')!.attributes['http.response.body.content'], '01234567');
});

test('splice: a gap the kernel marks as moved kernel-side is counted apart from other lost bytes', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  proc.consumeChunks([
    c.data('ingress', 'GET /spliced HTTP/1.1\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', 2n),
    { ...c.data('egress', '', 3n, 600), kernelSide: true },
    c.data('egress', '', 4n, 400), // lost for another reason (e.g. truncated): not kernel-side
    c.data('ingress', 'GET /next HTTP/1.1\r\n\r\n', 5n),
    c.data('egress', 'HTTP/1.1 204 No Content\r\n\r\n', 6n),
  ]);
  const [spliced, next] = spans();
  assert.equal(spliced!.attributes['http.response.body.size'], 1000);
  assert.equal(spliced!.attributes['tcpsniff.response.lost_bytes'], 1000);
  assert.equal(spliced!.attributes['tcpsniff.response.kernel_side_bytes'], 600);
  assert.equal(spliced!.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(next!.attributes['http.response.status_code'], 204);
  assert.equal(next!.attributes['tcpsniff.response.kernel_side_bytes'], undefined);
});

// ---- File ranges handed on unread (the sendfile receiver's reader): read only when needed ----

/** A file the processor may read ranges of, counting what it reads (as the sendfile receiver does). */
class FileOnDisk implements FileRangeReader {
  reads: Array<[number, number]> = [];
  unread = 0;
  constructor(
    readonly content: Buffer,
    /** The file changed or is gone by the time it is read: nothing can be read. */
    readonly gone = false,
  ) {}
  read(offset: number, length: number): Buffer {
    this.reads.push([offset, length]);
    const b = this.gone ? Buffer.alloc(0) : this.content.subarray(offset, offset + length);
    this.unread += length - b.length;
    return b;
  }
  giveUp(bytes: number): void {
    this.unread += bytes;
  }
  get readBytes(): number {
    return this.reads.reduce((n, [, l]) => n + l, 0) - this.unread;
  }
}

/** The gap of a file range [offset, offset + length) sent with sendfile and not read. */
function unreadRange(c: Conn, file: FileOnDisk, offset: number, length: number, time: bigint): CaptureChunk {
  return { ...c.data('egress', '', time, length), file: { path: PATH, offset, reader: file } };
}

const BODY = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100)); // 3,600 bytes

/** nginx's way: the head written from memory, the body sent from the file; two exchanges on one connection. */
function serveTwice(opts: Record<string, unknown>, file: FileOnDisk, headers = ''): { spans: SpanRecord[]; stats: Record<string, number> } {
  const { proc, spans } = makeProcessor(opts);
  const c = new Conn(SERVER_META);
  const n = file.content.length;
  for (const t of [1n, 10n]) {
    proc.consumeChunks([
      c.data('ingress', `GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n`, t),
      c.data('egress', `HTTP/1.1 200 OK\r\n${headers}Content-Length: ${n}\r\n\r\n`, t + 1n),
      unreadRange(c, file, 0, 1000, t + 2n),
      unreadRange(c, file, 1000, n - 1000, t + 3n),
    ]);
  }
  return { spans: spans(), stats: proc.stats() as Record<string, number> };
}

test('unread file range: a body nothing keeps is skipped — never read, sizes and file attributes exact, not a loss', () => {
  const file = new FileOnDisk(BODY);
  const { spans, stats } = serveTwice({}, file);
  assert.deepEqual(file.reads, [], 'nothing read');
  assert.equal(spans.length, 2);
  for (const s of spans) {
    assert.equal(s.attributes['http.response.body.size'], BODY.length);
    assert.equal(s.attributes['tcpsniff.response.lost_bytes'], undefined);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
    assert.deepEqual(sendfileAttrs(s), {
      [RES + 'path']: PATH,
      [RES + 'offset']: 0,
      [RES + 'bytes']: BODY.length,
      [RES + 'skipped_bytes']: BODY.length,
      [RES + 'capture']: 'skipped',
    });
  }
  assert.equal(stats['bytes.skipped'], 2 * BODY.length);
  assert.equal(stats['gaps'], undefined, 'a skip is not a gap');
  assert.equal(stats['gaps.bridged'], undefined);
});

test('unread file range: captured bodies are read (up to max_body_bytes, the rest skipped)', () => {
  const whole = new FileOnDisk(BODY);
  const all = serveTwice({ capture_bodies: true }, whole);
  assert.equal(whole.readBytes, 2 * BODY.length);
  for (const s of all.spans) {
    assert.equal(s.attributes['http.response.body.content'], BODY.toString());
    assert.equal(s.attributes[RES + 'capture'], 'reread');
    assert.equal(s.attributes[RES + 'skipped_bytes'], undefined);
  }
  const capped = new FileOnDisk(BODY);
  const some = serveTwice({ capture_bodies: true, max_body_bytes: 1500 }, capped);
  assert.deepEqual(capped.reads, [
    [0, 1000],
    [1000, 500],
    [0, 1000],
    [1000, 500],
  ]);
  for (const s of some.spans) {
    assert.equal(s.attributes['http.response.body.content'], BODY.subarray(0, 1500).toString());
    assert.equal(s.attributes['http.response.body.content.truncated'], true);
    assert.equal(s.attributes['http.response.body.size'], BODY.length);
    assert.equal(s.attributes[RES + 'bytes'], BODY.length);
    assert.equal(s.attributes[RES + 'skipped_bytes'], BODY.length - 1500);
    assert.equal(s.attributes[RES + 'capture'], 'reread');
  }
  assert.equal(some.stats['bytes.skipped'], 2 * (BODY.length - 1500));
});

test('unread file range: an event stream is read to find its end; a JSON answer to a POST is read for inspection', () => {
  const sse = new FileOnDisk(Buffer.from('data: {"a":1}\n\ndata: [DONE]\n\n'.padEnd(1200, ' ')));
  serveTwice({}, sse, 'Content-Type: text/event-stream\r\n');
  assert.equal(sse.readBytes, 2 * 1200);
  const { proc, spans } = makeProcessor({ inspect_bodies: 'always' });
  const json = new FileOnDisk(Buffer.from(JSON.stringify({ answer: 'x'.repeat(2000) })));
  const c = new Conn(SERVER_META);
  proc.consumeChunks([
    c.data('ingress', 'POST /v1/chat HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}', 1n),
    c.data('egress', `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${json.content.length}\r\n\r\n`, 2n),
    unreadRange(c, json, 0, json.content.length, 3n),
  ]);
  assert.equal(json.readBytes, json.content.length);
  assert.equal(Buffer.concat(spans()[0]!.internal!.response!.parts).toString(), json.content.toString());
});

test('unread file range: framing inside the range is read (chunked sizes, a range crossing into the next message); chunk data alone is skipped', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  // A file holding a chunked body, framing included.
  const chunked = new FileOnDisk(Buffer.from('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n'));
  // Chunk data only: the size line and the CRLF around it written from memory.
  const data = new FileOnDisk(Buffer.alloc(3000, 'd'));
  // A 4-byte body, then the whole next response, in one range.
  const twoMessages = new FileOnDisk(Buffer.from('bodyHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  proc.consumeChunks([
    c.data('ingress', 'GET /chunked HTTP/1.1\r\n\r\nGET /data HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 2n),
    unreadRange(c, chunked, 0, chunked.content.length, 3n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nbb8\r\n', 4n),
    unreadRange(c, data, 0, 3000, 5n),
    c.data('egress', '\r\n0\r\n\r\n', 6n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n', 7n),
    unreadRange(c, twoMessages, 0, twoMessages.content.length, 8n),
  ]);
  assert.equal(chunked.readBytes, chunked.content.length);
  assert.deepEqual(data.reads, []);
  assert.equal(twoMessages.readBytes, twoMessages.content.length);
  const byPath = new Map(spans().map((s) => [s.attributes['url.path'], s]));
  assert.deepEqual(
    ['/chunked', '/data', '/a', '/b'].map((p) => [byPath.get(p)?.attributes['http.response.body.size'], byPath.get(p)?.attributes['tcpsniff.incomplete']]),
    [
      [11, undefined],
      [3000, undefined],
      [4, undefined],
      [2, undefined],
    ],
  );
  assert.equal(byPath.get('/data')!.attributes[RES + 'capture'], 'skipped');
  assert.equal(byPath.get('/b')!.attributes[RES + 'capture'], 'reread', 'the next message came from the file too');
});

test('unread file range: a file gone by the time its bytes are needed is a gap as before; not needed, it is no loss', () => {
  const gone = new FileOnDisk(BODY, true);
  const captured = serveTwice({ capture_bodies: true }, gone);
  // The first range cannot be read: a gap, and the capture of that body ends there, so nothing
  // needs the second range any more (skipped, not tried).
  assert.deepEqual(gone.reads, [
    [0, 1000],
    [0, 1000],
  ]);
  assert.equal(gone.unread, 2 * 1000, 'the reader counted it unread');
  for (const s of captured.spans) {
    assert.equal(s.attributes['http.response.body.size'], BODY.length);
    assert.equal(s.attributes['tcpsniff.response.lost_bytes'], 1000);
    assert.equal(s.attributes['http.response.body.content.truncated'], true);
    assert.equal(s.attributes['tcpsniff.incomplete'], undefined, 'framing survived: keep-alive in step');
    assert.equal(s.attributes[RES + 'bytes'], BODY.length);
    assert.equal(s.attributes[RES + 'unread_bytes'], 1000);
    assert.equal(s.attributes[RES + 'skipped_bytes'], BODY.length - 1000);
    assert.equal(s.attributes[RES + 'capture'], 'partial');
  }
  assert.equal(captured.stats['gaps.bytes'], 2 * 1000);
  // Framing needs the bytes (a chunked body from the file): the whole rest of the range is a gap at once.
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  const framed = new FileOnDisk(Buffer.from('5\r\nhello\r\n0\r\n\r\n'), true);
  proc.consumeChunks([
    c.data('ingress', 'GET /c HTTP/1.1\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', 2n),
    unreadRange(c, framed, 0, framed.content.length, 3n),
  ]);
  assert.equal(framed.unread, framed.content.length);
  assert.equal(spans()[0]?.attributes['tcpsniff.incomplete'], 'truncated');
  const unneeded = new FileOnDisk(BODY, true);
  const skipped = serveTwice({}, unneeded);
  assert.deepEqual(unneeded.reads, []);
  for (const s of skipped.spans) assert.equal(s.attributes[RES + 'capture'], 'skipped');
});

test('unread file range: protocol detection reads the first bytes (a request sent from a file); HTTP/2 frames are read', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn({ ...SERVER_META, connId: 'cli-file', role: 'client' });
  const request = new FileOnDisk(Buffer.from('PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello'));
  proc.consumeChunks([unreadRange(c, request, 0, request.content.length, 1n), c.data('ingress', 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', 2n)]);
  assert.equal(request.readBytes, request.content.length);
  const [put] = spans();
  assert.equal(put!.attributes['http.request.method'], 'PUT');
  assert.equal(put!.attributes['http.request.body.size'], 5);
  assert.equal(put!.attributes['tcpsniff.sendfile.request.capture'], 'reread');

  const h2 = makeProcessor();
  const s = new Conn({ ...SERVER_META, connId: 'h2-file', role: 'unknown' });
  const enc = { c: new HpackEncoder(), s: new HpackEncoder() };
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  const req = frame(
    1,
    5,
    1,
    enc.c.encode([
      [':method', 'GET'],
      [':path', '/f'],
      [':scheme', 'http'],
    ]),
  );
  const payload = new FileOnDisk(Buffer.alloc(100, 'p'));
  h2.proc.consumeChunks([
    s.data('ingress', Buffer.concat([preface, settings(), req]), 1n),
    s.data(
      'egress',
      Buffer.concat([settings(), settings([], true), frame(1, 4, 1, enc.s.encode([[':status', '200']])), frame(0, 1, 1, payload.content).subarray(0, 9)]),
      2n,
    ),
    unreadRange(s, payload, 0, 100, 3n),
  ]);
  assert.equal(payload.readBytes, 100);
  const [f] = h2.spans();
  assert.equal(f!.attributes['http.response.body.size'], 100);
  assert.equal(f!.attributes[RES + 'capture'], 'reread');
});
