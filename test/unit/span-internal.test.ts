// Bodies kept for span processors (SpanRecord.internal) are never exported: the http processor
// keeps JSON POST bodies when asked (inspect_bodies), and no exporter encoding carries them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileExporter, fileExporterFactory } from '../../src/exporters/file';
import { formatSpan } from '../../src/exporters/debug/format';
import { encodeTraceRequest } from '../../src/exporters/otlp/protobuf';
import { traceRequestJson } from '../../src/exporters/otlp/json';
import type { SpanRecord } from '../../src/core/types';
import { CLIENT_META, Conn, makeProcessor, quietLogger } from './http-fixtures';

const SECRET = 'sk-internal-only-4b1d';
const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: SECRET }] });
const REQ = `POST /v1/chat/completions HTTP/1.1\r\nHost: llm.local\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`;
const RBODY = JSON.stringify({ id: 'x', choices: [{ message: { content: SECRET } }] });
const RES = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${(10).toString(16)}\r\n${RBODY.slice(0, 10)}\r\n${(RBODY.length - 10).toString(16)}\r\n${RBODY.slice(10)}\r\n0\r\n\r\n`;

function exchange(http: Record<string, unknown>, inspect: boolean): SpanRecord {
  const h = makeProcessor(http, inspect ? ['processor/genai'] : []);
  const c = new Conn(CLIENT_META);
  h.proc.consumeChunks([c.data('egress', REQ, 1000n), c.data('ingress', RES.slice(0, 90), 2000n), c.data('ingress', RES.slice(90), 3000n)]);
  assert.equal(h.spans().length, 1);
  return h.spans()[0]!;
}

async function everyEncoding(span: SpanRecord): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'internal-'));
  const file = path.join(dir, 'spans.jsonl');
  const exp = new FileExporter(fileExporterFactory.parseConfig({ path: file, flush_interval: '0s' }, 'exporters::file'), { id: 'file', logger: quietLogger });
  await exp.start();
  exp.consumeSpans([span]);
  await exp.shutdown();
  const out = [fs.readFileSync(file, 'utf8'), formatSpan(span, 'detailed'), traceRequestJson([span]), encodeTraceRequest([span]).toString('latin1')];
  fs.rmSync(dir, { recursive: true, force: true });
  return out;
}

test('inspected bodies are kept on span.internal (de-chunked, with times) but never exported', async () => {
  const span = exchange({}, true);
  assert.equal(Buffer.concat(span.internal!.request!.parts).toString(), BODY);
  assert.equal(Buffer.concat(span.internal!.response!.parts).toString(), RBODY);
  assert.deepEqual(span.internal!.response!.times, [2000n, 3000n, 3000n]); // one per HTTP chunk piece
  assert.equal(span.internal!.response!.contentType, 'application/json');
  assert.equal(span.attributes['http.request.body.content'], undefined);
  for (const out of await everyEncoding(span)) assert.ok(!out.includes(SECRET), out);
});

test('without a reader (inspect_bodies auto, no genai) nothing is kept; never: not even when asked', () => {
  assert.equal(exchange({}, false).internal!.request, undefined);
  assert.equal(exchange({ inspect_bodies: 'never' }, true).internal!.request, undefined);
  assert.ok(exchange({ inspect_bodies: 'always' }, false).internal!.request);
});

test('with capture_bodies the body is exported (capped at max_body_bytes) while inspection keeps it whole', async () => {
  const span = exchange({ capture_bodies: true, max_body_bytes: 20 }, true);
  assert.equal(span.attributes['http.request.body.content'], BODY.slice(0, 20));
  assert.equal(span.attributes['http.request.body.content.truncated'], true);
  assert.equal(Buffer.concat(span.internal!.request!.parts).toString(), BODY);
  const outs = await everyEncoding(span);
  assert.ok(outs[0]!.includes(BODY.slice(0, 20).replace(/"/g, '\\"')));
  for (const out of outs) assert.ok(!out.includes(SECRET));
});

test('GET requests and binary responses are not inspected', () => {
  const h = makeProcessor({}, ['x']);
  const c = new Conn(CLIENT_META);
  h.proc.consumeChunks([
    c.data('egress', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 1n),
    c.data('ingress', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi', 2n),
    c.data('egress', `POST /x HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`, 3n),
    c.data('ingress', 'HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 2\r\n\r\nhi', 4n),
  ]);
  const [get, post] = h.spans();
  assert.equal(get!.internal!.request, undefined);
  assert.equal(get!.internal!.response, undefined);
  assert.ok(post!.internal!.request);
  assert.equal(post!.internal!.response, undefined);
});
