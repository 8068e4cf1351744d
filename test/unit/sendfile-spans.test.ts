// Bodies sent from files (sendfile): the chunks' file origin reaches the span of the exchange
// whose body the bytes are, as tcpsniff.sendfile.* attributes (HTTP/1 and HTTP/2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaptureChunk, FileOrigin, SpanRecord } from '../../src/core/types';
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
