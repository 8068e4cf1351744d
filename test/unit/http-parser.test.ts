// HTTP/1 parser and pairing (Http1Handler), fed whole, byte by byte and split at random points.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http1Handler } from '../../src/processors/http/h1/handler';
import { parseChunkSize, parseHead, parseStartLine } from '../../src/processors/http/h1/head';
import { Counters } from '../../src/processors/http/core/counters';
import type { HandlerContext } from '../../src/processors/http/core/contract';
import type { HttpExchange } from '../../src/processors/http/model/exchange';
import { SERVER_META, prng } from './http-fixtures';

interface Summary {
  method: string;
  target: string;
  status?: number;
  reqBody?: string;
  resBody?: string;
  reqSize: number;
  resSize?: number;
  incomplete?: string;
}

function summarize(ex: HttpExchange): Summary {
  const s: Summary = { method: ex.req.head!.method, target: ex.req.head!.target, reqSize: ex.req.bodySize };
  if (ex.req.body) s.reqBody = Buffer.concat(ex.req.body).toString('latin1');
  if (ex.res) {
    s.status = ex.res.head!.status;
    s.resSize = ex.res.bodySize;
    if (ex.res.body) s.resBody = Buffer.concat(ex.res.body).toString('latin1');
  }
  if (ex.incomplete) s.incomplete = ex.incomplete;
  return s;
}

function newHandler(maxBodyBytes = 1 << 20) {
  const out: HttpExchange[] = [];
  const stats = new Counters();
  const ctx: HandlerContext = {
    meta: SERVER_META,
    limits: {
      captureBodies: true,
      maxBodyBytes,
      maxHeaderBytes: 64 * 1024,
      maxPendingRequests: 64,
      inspectBodies: false,
      maxInspectBytes: 0,
      captureHeaders: new Set(),
    },
    stats,
    pid: 1,
    comm: 'x',
    emit: (ex) => void out.push(ex),
  };
  // Server side: requests arrive on ingress, responses leave on egress.
  const h = new Http1Handler(ctx, 'ingress');
  return { h, out, stats };
}

type Splitter = (b: Buffer) => Buffer[];
const whole: Splitter = (b) => [b];
const bytewise: Splitter = (b) => Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
const randomSplit =
  (seed: number): Splitter =>
  (b) => {
    const r = prng(seed);
    const parts: Buffer[] = [];
    let i = 0;
    while (i < b.length) {
      const len = 1 + Math.floor(r() * Math.min(40, b.length - i));
      parts.push(b.subarray(i, i + len));
      i += len;
    }
    return parts;
  };

/**
 * Feeds the request stream, then the response stream (each cut by `split`), then closes.
 * `interleave` feeds request i before response i instead (needed when a response decides how
 * the request side continues: upgrades, CONNECT).
 */
function run(c: Case, split: Splitter): { exchanges: Summary[]; stats: Record<string, number> } {
  const { h, out, stats } = newHandler();
  const reqs = Array.isArray(c.req) ? c.req : [c.req];
  const ress = Array.isArray(c.res) ? c.res : [c.res];
  const feed = (dir: 'ingress' | 'egress', s: string) => {
    for (const p of split(Buffer.from(s, 'latin1'))) h.onData(dir, p, 1n, -1);
  };
  if (c.interleave) {
    for (let i = 0; i < Math.max(reqs.length, ress.length); i++) {
      if (reqs[i] !== undefined) feed('ingress', reqs[i]!);
      if (ress[i] !== undefined) feed('egress', ress[i]!);
    }
  } else {
    for (const r of reqs) feed('ingress', r);
    for (const r of ress) feed('egress', r);
  }
  if (c.close !== false) h.onClose();
  return { exchanges: out.map(summarize), stats: stats.values };
}

interface Case {
  name: string;
  req: string | string[];
  res: string | string[];
  expect: Summary[];
  interleave?: boolean;
  close?: boolean;
}

const CASES: Case[] = [
  {
    name: 'GET with Content-Length response',
    req: 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
    res: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
    expect: [{ method: 'GET', target: '/a', status: 200, reqSize: 0, resSize: 5, resBody: 'hello' }],
  },
  {
    name: 'keep-alive: two exchanges',
    req: ['GET /1 HTTP/1.1\r\n\r\n', 'GET /2 HTTP/1.1\r\n\r\n'],
    res: ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na', 'HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbc'],
    interleave: true,
    expect: [
      { method: 'GET', target: '/1', status: 200, reqSize: 0, resSize: 1, resBody: 'a' },
      { method: 'GET', target: '/2', status: 404, reqSize: 0, resSize: 2, resBody: 'bc' },
    ],
  },
  {
    name: 'pipelining with HEAD (Content-Length but no body) and POST',
    req: 'GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n' + 'POST /3 HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz',
    res:
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' +
      'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' +
      'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
    expect: [
      { method: 'GET', target: '/1', status: 200, reqSize: 0, resSize: 2, resBody: 'ok' },
      { method: 'HEAD', target: '/2', status: 200, reqSize: 0, resSize: 0 },
      { method: 'POST', target: '/3', status: 201, reqSize: 3, reqBody: 'xyz', resSize: 0 },
    ],
  },
  {
    name: 'chunked request and response, extensions, trailers, upper-case hex, BWS',
    req:
      'POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4;name=value\r\nWiki\r\n5 ;x="q"\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
    res: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n' + 'A\r\n0123456789\r\n1\r\n!\r\n0\r\n\r\n',
    expect: [
      {
        method: 'POST',
        target: '/up',
        status: 200,
        reqSize: 23,
        reqBody: 'Wikipedia in\r\n\r\nchunks.',
        resSize: 11,
        resBody: '0123456789!',
      },
    ],
  },
  {
    name: 'Transfer-Encoding chunked wins over Content-Length',
    req: 'GET / HTTP/1.1\r\n\r\n',
    res: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
    expect: [{ method: 'GET', target: '/', status: 200, reqSize: 0, resSize: 2, resBody: 'hi' }],
  },
  {
    name: 'body delimited by close (HTTP/1.0, no length)',
    req: 'GET /old HTTP/1.0\r\n\r\n',
    res: 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end\r\nof the stream',
    expect: [{ method: 'GET', target: '/old', status: 200, reqSize: 0, resSize: 28, resBody: 'until the end\r\nof the stream' }],
  },
  {
    name: '204 and 304 have no body even with Content-Length',
    req: ['DELETE /x HTTP/1.1\r\n\r\n', 'GET /y HTTP/1.1\r\nIf-None-Match: "a"\r\n\r\n', 'GET /z HTTP/1.1\r\n\r\n'],
    res: ['HTTP/1.1 204 No Content\r\n\r\n', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz'],
    expect: [
      { method: 'DELETE', target: '/x', status: 204, reqSize: 0, resSize: 0 },
      { method: 'GET', target: '/y', status: 304, reqSize: 0, resSize: 0 },
      { method: 'GET', target: '/z', status: 200, reqSize: 0, resSize: 1, resBody: 'z' },
    ],
  },
  {
    name: '100-continue: the interim response is not the final one',
    req: 'PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata',
    res: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
    expect: [{ method: 'PUT', target: '/f', status: 201, reqSize: 4, reqBody: 'data', resSize: 2, resBody: 'ok' }],
  },
  {
    name: '103 Early Hints then 200',
    req: 'GET /h HTTP/1.1\r\n\r\n',
    res: 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    expect: [{ method: 'GET', target: '/h', status: 200, reqSize: 0, resSize: 0 }],
  },
  {
    name: '101 upgrade: parsing stops on both sides',
    req: ['GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', '\x81\x85GET / HTTP/1.1\r\n\r\n'],
    res: ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello', 'HTTP/1.1 200 OK\r\n\r\n'],
    interleave: true,
    expect: [{ method: 'GET', target: '/ws', status: 101, reqSize: 0, resSize: 0 }],
  },
  {
    name: 'CONNECT 200: tunnel',
    req: ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x00\x05hello'],
    res: ['HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03GET / HTTP/1.1\r\n\r\n'],
    interleave: true,
    expect: [{ method: 'CONNECT', target: 'example.com:443', status: 200, reqSize: 0, resSize: 0 }],
  },
  {
    name: 'upgrade declined: the request side resumes',
    req: ['GET /a HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\r\nGET /b HTTP/1.1\r\n\r\n'],
    res: ['HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb'],
    interleave: true,
    expect: [
      { method: 'GET', target: '/a', status: 200, reqSize: 0, resSize: 1, resBody: 'a' },
      { method: 'GET', target: '/b', status: 200, reqSize: 0, resSize: 1, resBody: 'b' },
    ],
  },
  {
    name: 'leading empty lines, bare LF line endings, unknown method',
    req: '\r\n\r\nPURGE /c HTTP/1.1\nHost: h\n\n',
    res: 'HTTP/1.1 200 OK\nContent-Length: 3\n\nabc',
    expect: [{ method: 'PURGE', target: '/c', status: 200, reqSize: 0, resSize: 3, resBody: 'abc' }],
  },
  {
    name: 'large Content-Length body',
    req: `POST /big HTTP/1.1\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`,
    res: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    expect: [{ method: 'POST', target: '/big', status: 200, reqSize: 5000, reqBody: 'x'.repeat(5000), resSize: 2, resBody: 'ok' }],
  },
  {
    name: 'bad chunk size: response incomplete (malformed)',
    req: ['GET /1 HTTP/1.1\r\n\r\n'],
    res: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
    expect: [{ method: 'GET', target: '/1', status: 200, reqSize: 0, resSize: 0, incomplete: 'malformed' }],
  },
  {
    name: 'invalid Content-Length in a request',
    req: ['POST /1 HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabc'],
    res: ['HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'],
    expect: [{ method: 'POST', target: '/1', status: 400, reqSize: 0, resSize: 0, incomplete: 'malformed' }],
  },
  {
    name: 'connection closed before the response',
    req: ['GET /gone HTTP/1.1\r\n\r\n'],
    res: [''],
    expect: [{ method: 'GET', target: '/gone', reqSize: 0, incomplete: 'closed' }],
  },
  {
    name: 'connection closed in the middle of a Content-Length body',
    req: ['GET /cut HTTP/1.1\r\n\r\n'],
    res: ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'],
    expect: [{ method: 'GET', target: '/cut', status: 200, reqSize: 0, resSize: 3, resBody: 'abc', incomplete: 'closed' }],
  },
];

for (const c of CASES) {
  test(`parser: ${c.name}: whole, byte by byte and 100 random splits agree with the expectation`, () => {
    const ref = run(c, whole);
    assert.deepEqual(ref.exchanges, c.expect, 'fed whole');
    assert.deepEqual(run(c, bytewise).exchanges, c.expect, 'fed byte by byte');
    for (let seed = 1; seed <= 100; seed++) {
      assert.deepEqual(run(c, randomSplit(seed)).exchanges, c.expect, `split with seed ${seed}`);
    }
  });
}

test('parser: all cases concatenated on one connection give the same exchanges however split', () => {
  // Only cases that leave the connection in HTTP/1 and need no close or interleaving.
  const usable = CASES.filter((c) => !c.interleave && c.expect.every((e) => !e.incomplete) && !c.name.includes('close'));
  const joined: Case = {
    name: 'joined',
    req: usable.flatMap((c) => (Array.isArray(c.req) ? c.req : [c.req])),
    res: usable.flatMap((c) => (Array.isArray(c.res) ? c.res : [c.res])),
    expect: usable.flatMap((c) => c.expect),
  };
  assert.ok(joined.expect.length >= 8);
  assert.deepEqual(run(joined, whole).exchanges, joined.expect);
  assert.deepEqual(run(joined, bytewise).exchanges, joined.expect);
  for (let seed = 1000; seed < 1050; seed++) assert.deepEqual(run(joined, randomSplit(seed)).exchanges, joined.expect);
});

test('parser: a gap inside a Content-Length body is bridged (lost bytes counted, framing kept)', () => {
  const { h, out } = newHandler();
  h.onData('ingress', Buffer.from('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'), 1n, -1);
  h.onData('egress', Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), 2n, -1);
  h.onGap('egress', 4, 2n, 'truncated');
  h.onData('egress', Buffer.from('xyzHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nq'), 3n, -1);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.res!.bodySize, 10);
  assert.equal(out[0]!.res!.lostBytes, 4);
  assert.equal(out[0]!.res!.bodyTruncated, true);
  assert.equal(out[0]!.incomplete, null);
  assert.equal(out[1]!.req.head!.target, '/2');
  assert.equal(out[1]!.incomplete, null);
});

test('parser: a gap in a response head marks that exchange and drops the waiting ones (no guessing)', () => {
  const { h, out, stats } = newHandler();
  h.onData('ingress', Buffer.from('GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n'), 1n, -1);
  h.onData('egress', Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), 2n, -1);
  h.onGap('egress', 30, 2n, 'gap');
  // The rest of /1's response and /2's response arrive: /2 must not be paired with them.
  h.onData('egress', Buffer.from('HTTP/1.1 500 Nope\r\nContent-Length: 0\r\n\r\n'), 3n, -1);
  assert.deepEqual(out.map(summarize), [
    { method: 'GET', target: '/1', status: 200, reqSize: 0, resSize: 0, incomplete: 'gap' },
    { method: 'GET', target: '/2', reqSize: 0, incomplete: 'gap' },
  ]);
  assert.equal(stats.values['drops.unpaired_response'], 1);
  // A new request at a quiescent point resynchronises pairing.
  h.onData('ingress', Buffer.from('GET /3 HTTP/1.1\r\n\r\n'), 4n, -1);
  h.onData('egress', Buffer.from('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'), 5n, -1);
  assert.deepEqual(summarize(out[2]!), { method: 'GET', target: '/3', status: 202, reqSize: 0, resSize: 0 });
});

test('parser: a gap swallowing a request boundary: the damaged request keeps its response, later ones resync', () => {
  const { h, out } = newHandler();
  h.onData('ingress', Buffer.from('POST /1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab'), 1n, -1);
  h.onGap('ingress', 100, 1n, 'gap'); // rest of /1 and maybe more requests
  h.onData('egress', Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'), 2n, -1); // /1's response: certain
  h.onData('egress', Buffer.from('HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n'), 3n, -1); // of a lost request
  h.onData('ingress', Buffer.from('GET /after HTTP/1.1\r\n\r\n'), 4n, -1);
  h.onData('egress', Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'), 5n, -1);
  assert.deepEqual(out.map(summarize), [
    { method: 'POST', target: '/1', status: 200, reqSize: 2, reqBody: 'ab', resSize: 0, incomplete: 'gap' },
    { method: 'GET', target: '/after', status: 204, reqSize: 0, resSize: 0 },
  ]);
});

test('parser: header and chunk helpers', () => {
  assert.equal(parseChunkSize('1aF'), 0x1af);
  assert.equal(parseChunkSize('10 ;ext=1'), 16);
  assert.equal(parseChunkSize(''), -1);
  assert.equal(parseChunkSize('-1'), -1);
  assert.equal(parseChunkSize('0x10'), -1);
  assert.equal(parseChunkSize('fffffffffffffff'), -1); // beyond 2^53
  assert.deepEqual(parseStartLine('GET / HTTP/1.1'), { kind: 'request', method: 'GET', target: '/', version: '1.1' });
  assert.deepEqual(parseStartLine('HTTP/1.0 404 Not Found'), { kind: 'response', status: 404, version: '1.0' });
  assert.deepEqual(parseStartLine('HTTP/1.1 200'), { kind: 'response', status: 200, version: '1.1' });
  assert.equal(parseStartLine('PRI * HTTP/2.0'), null);
  assert.equal(parseStartLine('GET  HTTP/1.1'), null);
  assert.equal(parseStartLine('G(T / HTTP/1.1'), null);
  assert.equal(parseStartLine('HTTP/1.1 20 OK'), null);
  const head = parseHead(Buffer.from('POST /x HTTP/1.1\r\nCONTENT-LENGTH: 7\r\ncontent-length: 7\r\nhost:  a.b:81 \r\nbad line\r\n\r\n'), true);
  assert.ok(typeof head === 'object');
  assert.equal(head.contentLength, 7);
  assert.equal(head.host, 'a.b:81');
  const conflicting = parseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 7\r\nContent-Length: 8\r\n\r\n'), false);
  assert.ok(typeof conflicting === 'object' && conflicting.contentLength === -2);
  assert.equal(parseHead(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), true), 'malformed');
  const many = 'GET / HTTP/1.1\r\n' + 'X: y\r\n'.repeat(300) + '\r\n';
  assert.equal(parseHead(Buffer.from(many), true), 'too_large');
});
