// The http processor fed CaptureChunks: spans, pairing, gaps, timing, bodies, lifecycle.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { SpanKind, StatusCode, type CaptureChunk, type SpanRecord } from '../../src/core/types';
import { CLIENT_META, Conn, FAKE_PID, SERVER_META, makeProcessor } from './http-fixtures';

const REQ = 'GET /items?id=7&x HTTP/1.1\r\nHost: api.example.com:8080\r\nUser-Agent: test/1.0\r\n' + 'Authorization: Bearer secret\r\nAccept: */*\r\n\r\n';
const RES_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n';

const RESOURCE = {
  attributes: {
    'service.name': 'python3.11',
    'process.pid': FAKE_PID,
    'process.executable.name': 'python3.11',
    'host.name': hostname(),
  },
};

const onlySpan = (spans: SpanRecord[]): SpanRecord => {
  assert.equal(spans.length, 1, `expected exactly one span, got ${spans.length}`);
  return spans[0]!;
};

test('processor: server side of an exchange gives one SERVER span with exact attributes', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  proc.consumeChunks([c.data('ingress', REQ, 1000n)]);
  proc.consumeChunks([c.data('egress', RES_HEAD, 2000n), c.data('egress', 'ok', 3000n)]);
  const s = onlySpan(spans());
  assert.equal(s.name, 'GET');
  assert.equal(s.kind, SpanKind.SERVER);
  assert.equal(s.startTimeUnixNano, 1000n);
  assert.equal(s.endTimeUnixNano, 3000n);
  assert.deepEqual(s.status, { code: StatusCode.UNSET });
  assert.match(s.traceId, /^[0-9a-f]{32}$/);
  assert.match(s.spanId, /^[0-9a-f]{16}$/);
  assert.equal(s.parentSpanId, undefined);
  assert.deepEqual(s.events, []);
  assert.deepEqual(s.attributes, {
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'url.scheme': 'http',
    'url.path': '/items',
    'url.query': 'id=7&x',
    'server.address': 'api.example.com',
    'server.port': 8080,
    'client.address': '10.0.0.2',
    'network.peer.address': '10.0.0.2',
    'network.peer.port': 51000,
    'network.protocol.version': '1.1',
    'user_agent.original': 'test/1.0',
    'http.response.body.size': 2,
  });
  assert.deepEqual(s.resource, RESOURCE);
  assert.equal(proc.stats()['exchanges'], 1);
  assert.equal(proc.stats()['spans'], 1);
});

test('processor: client side of the exchange gives one CLIENT span with exact attributes', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([c.data('egress', REQ, 900n), c.data('ingress', RES_HEAD + 'ok', 3100n)]);
  const s = onlySpan(spans());
  assert.equal(s.name, 'GET');
  assert.equal(s.kind, SpanKind.CLIENT);
  assert.equal(s.startTimeUnixNano, 900n);
  assert.equal(s.endTimeUnixNano, 3100n);
  assert.deepEqual(s.attributes, {
    'http.request.method': 'GET',
    'http.response.status_code': 200,
    'url.full': 'http://api.example.com:8080/items?id=7&x',
    'server.address': 'api.example.com',
    'server.port': 8080,
    'network.peer.address': '10.0.0.1',
    'network.peer.port': 8080,
    'network.protocol.version': '1.1',
    'user_agent.original': 'test/1.0',
    'http.response.body.size': 2,
  });
  // Both sides of one loopback connection are independent: each gets its own span.
  const srv = new Conn(SERVER_META);
  proc.consumeChunks([srv.data('ingress', REQ, 1000n), srv.data('egress', RES_HEAD + 'ok', 3000n)]);
  assert.equal(spans().length, 2);
  assert.equal(spans()[1]!.kind, SpanKind.SERVER);
});

test('processor: client span without Host header uses the server endpoint; IPv6 is bracketed', () => {
  const { proc, spans } = makeProcessor();
  const meta = { ...CLIENT_META, connId: 'v6', family: 6 as const, remoteAddr: '::1', remotePort: 8443 };
  const c = new Conn(meta);
  proc.consumeChunks([c.data('egress', 'get /p HTTP/1.0\r\n\r\n', 1n), c.data('ingress', 'HTTP/1.0 503 Busy\r\nContent-Length: 0\r\n\r\n', 2n)]);
  const s = onlySpan(spans());
  assert.equal(s.name, 'HTTP');
  assert.deepEqual(s.status, { code: StatusCode.ERROR });
  assert.deepEqual(s.attributes, {
    'http.request.method': '_OTHER',
    'http.request.method_original': 'get',
    'http.response.status_code': 503,
    'url.full': 'http://[::1]:8443/p',
    'server.address': '::1',
    'server.port': 8443,
    'network.peer.address': '::1',
    'network.peer.port': 8443,
    'network.protocol.version': '1.0',
    'http.response.body.size': 0,
    'error.type': '503',
  });
});

test('processor: error status per kind: 4xx is an error only on CLIENT spans, 5xx on both', () => {
  for (const [meta, reqDir, resDir] of [
    [SERVER_META, 'ingress', 'egress'],
    [CLIENT_META, 'egress', 'ingress'],
  ] as const) {
    const { proc, spans } = makeProcessor();
    const c = new Conn(meta);
    proc.consumeChunks([
      c.data(reqDir, 'GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n', 1n),
      c.data(resDir, 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 500 Err\r\nContent-Length: 0\r\n\r\n', 2n),
    ]);
    const [a, b] = spans();
    if (meta === SERVER_META) {
      assert.deepEqual(a!.status, { code: StatusCode.UNSET });
      assert.equal(a!.attributes['error.type'], undefined);
    } else {
      assert.deepEqual(a!.status, { code: StatusCode.ERROR });
      assert.equal(a!.attributes['error.type'], '404');
    }
    assert.deepEqual(b!.status, { code: StatusCode.ERROR });
    assert.equal(b!.attributes['error.type'], '500');
  }
});

test('processor: a valid traceparent puts both SERVER and CLIENT spans in its trace', () => {
  const { proc, spans } = makeProcessor();
  const req =
    'GET / HTTP/1.1\r\nHost: a\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n' +
    'tracestate: congo=t61rcWkgMzE\r\ntracestate: rojo=00f067aa0ba902b7\r\n\r\n';
  const res = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const srv = new Conn(SERVER_META);
  const cli = new Conn(CLIENT_META);
  proc.consumeChunks([cli.data('egress', req, 1n), srv.data('ingress', req, 2n), srv.data('egress', res, 3n), cli.data('ingress', res, 4n)]);
  const all = spans();
  assert.equal(all.length, 2);
  for (const s of all) {
    assert.equal(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(s.parentSpanId, '00f067aa0ba902b7');
    assert.equal(s.traceState, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    assert.notEqual(s.spanId, '00f067aa0ba902b7');
    // The context's flags, and a parent that is remote (it came from the header).
    assert.equal(s.traceFlags, 1);
    assert.equal(s.remoteParentSpanId, '00f067aa0ba902b7');
  }
  assert.notEqual(all[0]!.spanId, all[1]!.spanId);
  assert.deepEqual(all.map((s) => s.kind).sort(), [SpanKind.SERVER, SpanKind.CLIENT].sort());
});

test('processor: invalid traceparent headers are ignored (fresh trace, no parent, no tracestate)', () => {
  const bad = [
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01', // upper case
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // version ff
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // zero trace id
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // zero parent id
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    '00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g',
  ];
  for (const tp of bad) {
    const { proc, spans } = makeProcessor();
    const c = new Conn(SERVER_META);
    proc.consumeChunks([
      c.data('ingress', `GET / HTTP/1.1\r\ntraceparent: ${tp}\r\ntracestate: a=b\r\n\r\n`, 1n),
      c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n),
    ]);
    const s = onlySpan(spans());
    assert.notEqual(s.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', tp);
    assert.match(s.traceId, /^[0-9a-f]{32}$/);
    assert.equal(s.parentSpanId, undefined, tp);
    assert.equal(s.traceState, undefined, tp);
  }
  // Two traceparent headers: invalid too.
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  const tp = 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n';
  proc.consumeChunks([c.data('ingress', `GET / HTTP/1.1\r\n${tp}${tp}\r\n`, 1n), c.data('egress', 'HTTP/1.1 204 OK\r\n\r\n', 2n)]);
  assert.equal(onlySpan(spans()).parentSpanId, undefined);
});

test('processor: pipelined requests pair FIFO with their responses', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([
    c.data('egress', 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx', 10n),
    c.data('ingress', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none', 20n),
    c.data('ingress', 'HTTP/1.1 302 Found\r\nContent-Length: 99\r\n\r\n', 30n),
    c.data('ingress', 'HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nthree', 40n),
  ]);
  const all = spans();
  assert.deepEqual(
    all.map((s) => [s.name, s.attributes['url.full'], s.attributes['http.response.status_code'], s.startTimeUnixNano, s.endTimeUnixNano]),
    [
      ['GET', 'http://h/1', 200, 10n, 20n],
      ['HEAD', 'http://h/2', 302, 10n, 30n],
      ['POST', 'http://h/3', 201, 10n, 40n],
    ],
  );
  assert.equal(all[2]!.attributes['http.request.body.size'], 1);
});

test('processor: one consumeSpans call per consumeChunks call', () => {
  const { proc, batches } = makeProcessor();
  const c = new Conn(SERVER_META);
  const chunks: CaptureChunk[] = [];
  for (let i = 0; i < 50; i++) {
    chunks.push(c.data('ingress', `GET /${i} HTTP/1.1\r\n\r\n`, BigInt(i * 2)));
    chunks.push(c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', BigInt(i * 2 + 1)));
  }
  proc.consumeChunks(chunks);
  assert.equal(batches.length, 1);
  assert.equal(batches[0]!.length, 50);
  proc.consumeChunks([]);
  assert.equal(batches.length, 1); // nothing to deliver, no call
});

test('processor: a hole in the middle marks the affected exchange; later exchanges still parse', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const chunks = [
    c.data('ingress', 'GET /1 HTTP/1.1\r\n\r\n', 1n),
    c.data('egress', ok, 2n),
    c.data('ingress', 'POST /2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123', 3n),
  ];
  c.skip('ingress', 40); // rest of /2's body never captured
  chunks.push(
    c.data('ingress', 'X\r\n0\r\n\r\n', 4n), // the tail of /2 after the hole
    c.data('egress', 'HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n', 5n),
    c.data('ingress', 'GET /3 HTTP/1.1\r\n\r\n', 6n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3', 7n),
  );
  proc.consumeChunks(chunks);
  const all = spans();
  assert.deepEqual(
    all.map((s) => [s.attributes['url.path'], s.attributes['http.response.status_code'], s.attributes['tcpsniff.incomplete']]),
    [
      ['/1', 200, undefined],
      ['/2', 400, 'gap'],
      ['/3', 200, undefined],
    ],
  );
  const gap = all[1]!;
  assert.equal(gap.attributes['error.type'], 'gap');
  assert.equal(gap.status.code, StatusCode.ERROR);
  assert.match(gap.status.message ?? '', /not captured/);
  assert.equal(all[2]!.status.code, StatusCode.UNSET);
  const st = proc.stats();
  assert.equal(st['gaps'], 1);
  assert.equal(st['gaps.bytes'], 40);
  assert.equal(st['drops.gap'], 1);
  assert.equal(st['exchanges.incomplete.gap'], 1);
});

test('processor: a hole that swallows whole messages never pairs across it', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  const chunks = [c.data('ingress', 'GET /1 HTTP/1.1\r\n\r\n', 1n), c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n)];
  c.skip('ingress', 'GET /2 HTTP/1.1\r\n\r\n'.length); // request /2 lost entirely
  chunks.push(c.data('egress', 'HTTP/1.1 418 Teapot\r\nContent-Length: 0\r\n\r\n', 4n)); // /2's response
  chunks.push(c.data('ingress', 'GET /3 HTTP/1.1\r\n\r\n', 5n));
  chunks.push(c.data('egress', 'HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n', 6n));
  proc.consumeChunks(chunks);
  assert.deepEqual(
    spans().map((s) => [s.attributes['url.path'], s.attributes['http.response.status_code']]),
    [
      ['/1', 200],
      ['/3', 201],
    ],
  );
  assert.equal(proc.stats()['drops.unpaired_response'], 1);
});

test('processor: out-of-order chunks are reordered by offset', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  const a = c.data('ingress', 'GET /reo', 1n);
  const b = c.data('ingress', 'rdered HTTP/1.1\r\n', 2n);
  const d = c.data('ingress', 'Host: h\r\n\r\n', 3n);
  const r1 = c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab', 4n);
  const r2 = c.data('egress', 'cd', 5n);
  const dup = { ...b }; // a duplicate, delivered again later
  proc.consumeChunks([a, d, b, dup, r2, r1]);
  const s = onlySpan(spans());
  assert.equal(s.attributes['url.path'], '/reordered');
  assert.equal(s.attributes['http.response.body.size'], 4);
  assert.equal(s.endTimeUnixNano, 5n);
  assert.equal(proc.stats()['chunks.late'], 1);
  assert.equal(proc.stats()['gaps'], undefined);
});

test('processor: a hole not filled by the end of the next batch is declared a gap', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  c.skip('ingress', 0);
  const first = c.data('ingress', 'GET /a HTTP/1.1\r\n\r\n', 1n);
  c.skip('ingress', 10);
  const later = c.data('ingress', 'GET /b HTTP/1.1\r\n\r\n', 2n);
  proc.consumeChunks([first, later]);
  assert.equal(proc.stats()['gaps'], undefined); // waits (first batch)
  proc.consumeChunks([]);
  assert.equal(proc.stats()['gaps'], 1);
  assert.equal(proc.stats()['gaps.timeout'], 1);
  // /b came after a gap at a boundary while /a was waiting for its response: it cannot be paired
  // (emitted at once); the response of /a still pairs.
  proc.consumeChunks([c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 3n), c.close(4n)]);
  assert.deepEqual(
    spans().map((s) => [s.attributes['url.path'], s.attributes['http.response.status_code'], s.attributes['tcpsniff.incomplete']]),
    [
      ['/b', undefined, 'gap'],
      ['/a', 200, undefined],
    ],
  );
});

test('processor: truncated capture (lostAfter) inside a body is bridged, not an error', () => {
  const { proc, spans } = makeProcessor({ capture_bodies: true });
  const c = new Conn(SERVER_META);
  proc.consumeChunks([
    c.data('ingress', 'POST /up HTTP/1.1\r\nContent-Length: 1000\r\n\r\nhello', 1n, 995),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n),
    c.data('ingress', 'GET /next HTTP/1.1\r\n\r\n', 3n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 4n),
  ]);
  const [up, next] = spans();
  assert.equal(up!.attributes['http.request.body.size'], 1000);
  assert.equal(up!.attributes['tcpsniff.request.lost_bytes'], 995);
  assert.equal(up!.attributes['http.request.body.content'], 'hello');
  assert.equal(up!.attributes['http.request.body.content.truncated'], true);
  assert.equal(up!.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(up!.status.code, StatusCode.UNSET);
  assert.equal(next!.attributes['url.path'], '/next');
  assert.equal(proc.stats()['gaps.bridged'], 1);
});

test('processor: truncated capture in a header section marks the exchange truncated', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([
    c.data('egress', 'GET /big-headers HTTP/1.1\r\nHost: h\r\nX-A: ', 1n, 5000),
    c.data('ingress', 'HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n', 2n),
  ]);
  const s = onlySpan(spans());
  assert.equal(s.attributes['tcpsniff.incomplete'], 'truncated');
  assert.equal(s.attributes['error.type'], 'truncated');
  assert.equal(s.attributes['http.response.status_code'], 431);
  assert.equal(s.attributes['url.full'], 'http://10.0.0.1:8080/big-headers'); // Host header was lost with the rest of the head
});

test('processor: a body delimited by the close finishes on the close chunk', () => {
  const { proc, spans } = makeProcessor({ capture_bodies: true });
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([
    c.data('egress', 'GET /stream HTTP/1.1\r\nHost: h\r\n\r\n', 1n),
    c.data('ingress', 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart1,', 2n),
  ]);
  proc.consumeChunks([c.data('ingress', 'part2', 3n)]);
  assert.equal(spans().length, 0);
  proc.consumeChunks([c.close(9n)]);
  const s = onlySpan(spans());
  assert.equal(s.attributes['http.response.body.size'], 11);
  assert.equal(s.attributes['http.response.body.content'], 'part1,part2');
  assert.equal(s.endTimeUnixNano, 3n); // last byte of the response, not the close
  assert.equal(s.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(proc.stats()['connections.closed'], 1);
  assert.equal(proc.trackedConnections, 0);
});

test('processor: close mid-response marks the exchange closed', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  proc.consumeChunks([c.data('ingress', 'GET / HTTP/1.1\r\n\r\n', 1n), c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 2n), c.close(3n)]);
  const s = onlySpan(spans());
  assert.equal(s.attributes['tcpsniff.incomplete'], 'closed');
  assert.equal(s.status.code, StatusCode.ERROR);
  assert.equal(s.endTimeUnixNano, 2n);
});

test('processor: 100-continue: the final response ends the span', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([
    c.data('egress', 'PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n', 1n),
    c.data('ingress', 'HTTP/1.1 100 Continue\r\n\r\n', 2n),
    c.data('egress', 'abc', 3n),
    c.data('ingress', 'HTTP/1.1 204 No Content\r\n\r\n', 4n),
  ]);
  const s = onlySpan(spans());
  assert.equal(s.attributes['http.response.status_code'], 204);
  assert.equal(s.attributes['http.request.body.size'], 3);
  assert.equal(s.startTimeUnixNano, 1n);
  assert.equal(s.endTimeUnixNano, 4n);
  assert.equal(proc.stats()['responses.interim'], 1);
});

test('processor: 101 upgrade: one span, then the connection is no longer parsed', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn(SERVER_META);
  proc.consumeChunks([
    c.data('ingress', 'GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 2n),
    c.data('ingress', 'GET /not-http HTTP/1.1\r\n\r\n', 3n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 4n),
  ]);
  const s = onlySpan(spans());
  assert.equal(s.attributes['http.response.status_code'], 101);
  assert.equal(s.endTimeUnixNano, 2n);
  assert.equal(proc.stats()['connections.upgraded'], 1);
  assert.equal(proc.bufferedBytes(), 0);
  proc.consumeChunks([c.data('ingress', 'GET /x HTTP/1.1\r\n\r\n', 5n), c.close(6n)]);
  assert.equal(spans().length, 1);
});

test('processor: bodies are not captured by default; when on, capped with a truncation marker', () => {
  const req = 'POST /b HTTP/1.1\r\nContent-Length: 12\r\n\r\nhello world!';
  const res = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\xff\xfe\x00\r\n0\r\n\r\n';
  const feed = (raw: Record<string, unknown>) => {
    const h = makeProcessor(raw);
    const c = new Conn(SERVER_META);
    h.proc.consumeChunks([c.data('ingress', req, 1n), c.data('egress', res, 2n)]);
    return onlySpan(h.spans()).attributes;
  };
  const off = feed({});
  assert.equal(off['http.request.body.size'], 12);
  assert.equal(off['http.response.body.size'], 3);
  assert.deepEqual(
    Object.keys(off).filter((k) => k.includes('content')),
    [],
  );
  const on = feed({ capture_bodies: true, max_body_bytes: 5 });
  assert.equal(on['http.request.body.content'], 'hello');
  assert.equal(on['http.request.body.content.truncated'], true);
  assert.equal(on['http.request.body.content.encoding'], undefined);
  assert.equal(on['http.response.body.content'], Buffer.from([0xff, 0xfe, 0]).toString('base64'));
  assert.equal(on['http.response.body.content.encoding'], 'base64');
  assert.equal(on['http.response.body.content.truncated'], undefined);
  // A cut in the middle of a multi-byte character stays text.
  const h = makeProcessor({ capture_bodies: true, max_body_bytes: 4 });
  const c = new Conn(SERVER_META);
  h.proc.consumeChunks([
    c.data('ingress', Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nContent-Length: 6\r\n\r\n'), Buffer.from('aé€', 'utf8')]), 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n),
  ]);
  const a = onlySpan(h.spans()).attributes;
  assert.equal(a['http.request.body.content'], 'aé');
  assert.equal(a['http.request.body.content.truncated'], true);
});

test('processor: non-HTTP connections are detected by content, counted and not buffered', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn({ ...SERVER_META, connId: 'tls', localPort: 80 });
  const hello = Buffer.from('16030100a5010000a10303' + '00'.repeat(200), 'hex');
  const chunks: CaptureChunk[] = [];
  for (let i = 0; i < 20; i++) chunks.push(c.data(i % 2 ? 'egress' : 'ingress', hello, BigInt(i)));
  proc.consumeChunks(chunks);
  assert.equal(spans().length, 0);
  assert.equal(proc.stats()['connections.non_http'], 1);
  assert.ok(proc.stats()['bytes.ignored']! > 0);
  assert.equal(proc.bufferedBytes(), 0);
  // Detection by content, not port: HTTP on an odd port is parsed.
  const odd = new Conn({ ...SERVER_META, connId: 'odd', localPort: 5432 });
  proc.consumeChunks([odd.data('ingress', 'GET / HTTP/1.1\r\n\r\n', 1n), odd.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n)]);
  assert.equal(spans().length, 1);
});

test('processor: the side sending the request line is the client, whatever the kernel role says', () => {
  const { proc, spans } = makeProcessor();
  const c = new Conn({ ...SERVER_META, connId: 'unknown-role', role: 'unknown' });
  // The first bytes seen are the response (status line): requests are on the other direction.
  proc.consumeChunks([c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 1n)]);
  proc.consumeChunks([c.data('ingress', 'GET /x HTTP/1.1\r\n\r\n', 2n), c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 3n)]);
  const s = onlySpan(spans());
  assert.equal(s.kind, SpanKind.SERVER);
  assert.equal(proc.stats()['drops.unpaired_response'], 1);
});

test('processor: service_names maps executable or comm to service.name; resource shared per pid', () => {
  const { proc, spans } = makeProcessor({ service_names: { 'python3.11': 'orders', curl: 'fetcher' } });
  const srv = new Conn(SERVER_META);
  const cli = new Conn(CLIENT_META, 999_999_999, 'curl'); // no such pid: comm fallback
  proc.consumeChunks([
    srv.data('ingress', 'GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n', 1n),
    srv.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n),
    cli.data('egress', 'GET / HTTP/1.1\r\n\r\n', 3n),
    cli.data('ingress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 4n),
  ]);
  const [a, b, c] = spans();
  assert.equal(a!.resource.attributes['service.name'], 'orders');
  assert.equal(a!.resource, b!.resource); // the same object
  assert.deepEqual(c!.resource.attributes, {
    'service.name': 'fetcher',
    'process.pid': 999_999_999,
    'process.executable.name': 'curl',
    'host.name': hostname(),
  });
});

test('processor: idle connections are flushed by the sweep, in-flight exchanges marked idle', () => {
  const { proc, spans } = makeProcessor({ idle_timeout: '1s' });
  const c = new Conn(SERVER_META);
  proc.consumeChunks([c.data('ingress', 'GET /slow HTTP/1.1\r\n\r\n', 1n)]);
  proc.sweep(performance.now() + 500);
  assert.equal(spans().length, 0);
  proc.sweep(performance.now() + 5000);
  const s = onlySpan(spans());
  assert.equal(s.attributes['tcpsniff.incomplete'], 'idle');
  assert.equal(proc.stats()['connections.idle'], 1);
  assert.equal(proc.trackedConnections, 0);
});

test('processor: shutdown flushes in-flight exchanges as shutdown, is idempotent and safe without start', async () => {
  const { proc, spans, batches } = makeProcessor();
  await proc.start();
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([c.data('egress', 'GET /pending HTTP/1.1\r\nHost: h\r\n\r\n', 1n), c.data('ingress', 'HTTP/1.1 200 OK\r\n\r\nstreaming', 2n)]);
  assert.equal(spans().length, 0);
  await proc.shutdown();
  const s = onlySpan(spans());
  assert.equal(s.attributes['tcpsniff.incomplete'], 'shutdown');
  assert.equal(s.attributes['http.response.status_code'], 200);
  await proc.shutdown();
  assert.equal(batches.length, 1);
  proc.consumeChunks([c.data('egress', 'GET / HTTP/1.1\r\n\r\n', 3n)]);
  assert.equal(proc.stats()['drops.after_shutdown'], 1);
  const fresh = makeProcessor();
  await fresh.proc.shutdown();
  await fresh.proc.shutdown();
});

test('processor: a throwing consumer never throws into the receiver', () => {
  const { proc } = makeProcessor({}, [], {
    consumeSpans: () => {
      throw new Error('boom');
    },
  });
  const c = new Conn(SERVER_META);
  assert.doesNotThrow(() =>
    proc.consumeChunks([c.data('ingress', 'GET / HTTP/1.1\r\n\r\n', 1n), c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n)]),
  );
  assert.equal(proc.stats()['errors.consumer'], 1);
});

test('processor: max_connections evicts the least recently active connection, counted', () => {
  const { proc, spans } = makeProcessor({ max_connections: 2 });
  const conns = [0, 1, 2].map((i) => new Conn({ ...SERVER_META, connId: `c${i}` }));
  proc.consumeChunks([conns[0]!.data('ingress', 'GET /0 HTTP/1.1\r\n\r\n', 1n)]);
  proc.consumeChunks([conns[1]!.data('ingress', 'GET /1 HTTP/1.1\r\n\r\n', 2n)]);
  proc.consumeChunks([conns[0]!.data('ingress', 'GET /0b HTTP/1.1\r\n\r\n', 3n)]); // c0 is now the most recent
  proc.consumeChunks([conns[2]!.data('ingress', 'GET /2 HTTP/1.1\r\n\r\n', 4n)]); // evicts c1
  assert.equal(proc.trackedConnections, 2);
  assert.equal(proc.stats()['connections.evicted'], 1);
  const s = onlySpan(spans());
  assert.equal(s.attributes['url.path'], '/1');
  assert.equal(s.attributes['tcpsniff.incomplete'], 'evicted');
});

test('processor: max_pending_requests caps waiting requests without breaking FIFO pairing', () => {
  const { proc, spans } = makeProcessor({ max_pending_requests: 2 });
  const c = new Conn(SERVER_META);
  const reqs = [1, 2, 3, 4].map((i) => `GET /${i} HTTP/1.1\r\n\r\n`).join('');
  const ress = [1, 2, 3, 4].map((i) => `HTTP/1.1 20${i} OK\r\nContent-Length: 0\r\n\r\n`).join('');
  proc.consumeChunks([c.data('ingress', reqs, 1n), c.data('egress', ress, 2n)]);
  assert.deepEqual(
    spans().map((s) => [s.attributes['url.path'], s.attributes['http.response.status_code'], s.attributes['tcpsniff.incomplete']]),
    [
      ['/1', undefined, 'overflow'],
      ['/2', undefined, 'overflow'],
      ['/3', 203, undefined],
      ['/4', 204, undefined],
    ],
  );
  assert.equal(proc.stats()['drops.pending_overflow'], 2);
});

test('processor: a process description chunk (kind "process") feeds the resource; unknown kinds are skipped', () => {
  const { proc, spans } = makeProcessor({ service_names: { worker: 'jobs' }, command_line: true });
  const gone = 999_999_998; // not in the fake /proc: only the description knows it
  const c = new Conn(SERVER_META, gone, 'wrk');
  const describe = (startTimeNs: number, args: string[]) =>
    ({
      ...c.data('ingress', Buffer.alloc(0), 0n),
      kind: 'process',
      process: { pid: gone, startTimeNs, exe: 'worker', args },
    }) as unknown as CaptureChunk;
  const odd = { ...c.data('ingress', Buffer.alloc(0), 0n), kind: 'future-kind' } as unknown as CaptureChunk;
  proc.consumeChunks([
    describe(1, ['worker', '--queue', 'mail', '--token', 'tok-1']),
    odd,
    c.data('ingress', 'GET /1 HTTP/1.1\r\n\r\n', 1n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 2n),
    describe(1, ['ignored', 'same', 'incarnation']),
    c.data('ingress', 'GET /2 HTTP/1.1\r\n\r\n', 3n),
    c.data('egress', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 4n),
  ]);
  const [a, b] = spans();
  assert.deepEqual(a!.resource.attributes, {
    'service.name': 'jobs',
    'process.pid': gone,
    'process.executable.name': 'worker',
    'process.command_line': 'worker --queue mail --token REDACTED', // asked for: redacted at the source
    'host.name': hostname(),
  });
  assert.equal(a!.resource, b!.resource);
  assert.deepEqual(a!.internal!.processArgs, ['worker', '--queue', 'mail', '--token', 'tok-1'], 'raw, for span processors only');
  assert.equal(proc.stats()['chunks.unknown_kind'], 1);
  assert.equal(proc.stats()['errors'], undefined);
});
