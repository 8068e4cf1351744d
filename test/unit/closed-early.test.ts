// Responses complete by protocol semantics whose formal end was never seen because the client
// closed first: an SSE body at its final event (HTTP/1 chunked, HTTP/2), an HTTP/2 body with its
// Content-Length satisfied. Complete, with tcpsniff.response.unread; real truncation stays 'closed'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SpanRecord } from '../../src/core/types';
import { SseEnd } from '../../src/processors/http/model/sse-end';
import { CLIENT_META, Conn, makeProcessor } from './http-fixtures';
import { HpackEncoder, frame, settings } from './helpers/h2';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function sseEnd(body: string, split = 0, lostAt = -1): boolean {
  const t = new SseEnd();
  const b = Buffer.from(body, 'latin1');
  for (let p = 0; p < b.length;) {
    const q = split > 0 ? Math.min(b.length, p + split) : b.length;
    if (p === lostAt) t.lost();
    t.push(b, p, q);
    p = q;
  }
  return t.atFinalEvent;
}

test('SSE final events: [DONE], message_stop, response.completed; line endings, splits, comments, losses', () => {
  const openai = 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n';
  for (const split of [0, 1, 3, 7]) {
    assert.equal(sseEnd(openai, split), true, `split ${split}`);
    assert.equal(sseEnd(openai.replace(/\n/g, '\r\n'), split), true);
    assert.equal(sseEnd(openai.replace(/\n/g, '\r'), split), true);
  }
  assert.equal(sseEnd('data:[DONE]\n\n'), true);
  assert.equal(sseEnd(`${openai}: keep-alive\n\n\n`), true, 'comments and blank lines after the final event');
  assert.equal(sseEnd('event: message_start\ndata: {}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'), true);
  assert.equal(sseEnd(`event: response.completed\ndata: {"response":${JSON.stringify({ text: 'x'.repeat(5000) })}}\n\n`), true);
  assert.equal(sseEnd(openai.slice(0, -1)), false, 'the final event is not dispatched yet');
  assert.equal(sseEnd(`${openai}data: {}\n`), false, 'an event started after it');
  assert.equal(sseEnd('data: {"choices":[]}\n\n'), false, 'mid-stream');
  assert.equal(sseEnd('data: [DONE]\ndata: more\n\n'), false, 'two data lines');
  assert.equal(sseEnd(`data: [DONE]${'x'.repeat(100)}\n\n`), false);
  assert.equal(sseEnd('event: message_delta\ndata: {}\n\n'), false);
  assert.equal(sseEnd(''), false);
  // Lost bytes: the event they fall in is unknown; a later final event counts.
  const done = openai.indexOf('[DONE]');
  assert.equal(sseEnd(openai, done, done), false, 'bytes lost inside the final event');
  const lostFirst = new SseEnd();
  lostFirst.lost();
  lostFirst.push(Buffer.from(`x\n\n${openai}`), 0, openai.length + 3);
  assert.equal(lostFirst.atFinalEvent, true);
  const lostInFinal = new SseEnd();
  lostInFinal.push(Buffer.from('data: [DO'), 0, 9);
  lostInFinal.lost();
  lostInFinal.push(Buffer.from('NE]\n\n'), 0, 5);
  assert.equal(lostInFinal.atFinalEvent, false);
});

const REQ = 'POST /v1/chat/completions HTTP/1.1\r\nHost: llm\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
const SSE_HEAD = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n';
const chunk = (s: string) => `${s.length.toString(16)}\r\n${s}\r\n`;

function http1(...res: string[]): SpanRecord {
  const { proc, spans } = makeProcessor();
  const c = new Conn(CLIENT_META);
  proc.consumeChunks([c.data('egress', REQ, 1000n), ...res.map((r, i) => c.data('ingress', r, 2000n + BigInt(i)))]);
  proc.consumeChunks([c.close(9000n)]);
  assert.equal(spans().length, 1);
  return spans()[0]!;
}

test('HTTP/1 chunked SSE: closed right after the final event is complete (last chunk unread); anything short of it is closed', () => {
  const events = chunk('data: {"a":1}\n\n') + chunk('data: [DONE]\n\n');
  const whole = http1(SSE_HEAD, events);
  assert.equal(whole.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(whole.attributes['tcpsniff.response.unread'], 'last_chunk');
  assert.equal(whole.attributes['http.response.body.size'], 29);
  assert.equal(whole.status.code, 0);
  assert.equal(whole.endTimeUnixNano, 2001n, 'ends with the last byte seen');
  const terminated = http1(SSE_HEAD, events, '0\r\n\r\n');
  assert.equal(terminated.attributes['tcpsniff.response.unread'], undefined);
  assert.equal(terminated.attributes['tcpsniff.incomplete'], undefined);
  for (const [what, res] of [
    ['no final event', [SSE_HEAD, chunk('data: {"a":1}\n\n')]],
    ['inside the final chunk', [SSE_HEAD, events.slice(0, -2)]],
    ['inside the last chunk-size line', [SSE_HEAD, events, '0']],
    ['not SSE', ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n', events]],
  ] as const) {
    const s = http1(...res);
    assert.equal(s.attributes['tcpsniff.incomplete'], 'closed', what);
    assert.equal(s.attributes['tcpsniff.response.unread'], undefined, what);
  }
});

function h2(resHeaders: Array<[string, string]>, data: Buffer[], end = false): SpanRecord {
  const { proc, spans } = makeProcessor();
  const c = new Conn(CLIENT_META);
  const enc = new HpackEncoder();
  const dec = new HpackEncoder();
  const req = enc.encode([
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/x'],
    [':authority', 'h'],
  ]);
  proc.consumeChunks([
    c.data('egress', Buffer.concat([PREFACE, settings(), frame(1, 5, 1, req)]), 1000n),
    c.data('ingress', Buffer.concat([settings(), frame(1, 4, 1, dec.encode([[':status', '200'], ...resHeaders]))]), 2000n),
    ...data.map((d, i) => c.data('ingress', frame(0, end && i === data.length - 1 ? 1 : 0, 1, d), 3000n + BigInt(i))),
  ]);
  proc.consumeChunks([c.close(9000n)]);
  assert.equal(spans().length, 1);
  return spans()[0]!;
}

test('HTTP/2: closed before END_STREAM is complete once Content-Length is satisfied or the SSE body reached its final event', () => {
  const body = [Buffer.alloc(3000, 1), Buffer.alloc(2000, 2)];
  const whole = h2([['content-length', '5000']], body);
  assert.equal(whole.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(whole.attributes['tcpsniff.response.unread'], 'end_stream');
  assert.equal(whole.attributes['http.response.body.size'], 5000);
  assert.equal(whole.endTimeUnixNano, 3001n);
  assert.equal(h2([['content-length', '5000']], body, true).attributes['tcpsniff.response.unread'], undefined, 'END_STREAM seen');
  const sse = h2([['content-type', 'text/event-stream']], [Buffer.from('data: {}\n\n'), Buffer.from('data: [DONE]\n\n')]);
  assert.equal(sse.attributes['tcpsniff.incomplete'], undefined);
  assert.equal(sse.attributes['tcpsniff.response.unread'], 'end_stream');
  for (const [what, s] of [
    ['short of Content-Length', h2([['content-length', '6000']], body)],
    ['no Content-Length', h2([], body)],
    ['SSE without its final event', h2([['content-type', 'text/event-stream']], [Buffer.from('data: {}\n\n')])],
    [
      'gRPC needs its trailers',
      h2(
        [
          ['content-type', 'application/grpc'],
          ['content-length', '10'],
        ],
        [Buffer.from([0, 0, 0, 0, 5, 1, 2, 3, 4, 5])],
      ),
    ],
  ] as const) {
    assert.equal(s.attributes['tcpsniff.incomplete'], 'closed', what);
    assert.equal(s.attributes['tcpsniff.response.unread'], undefined, what);
  }
});
