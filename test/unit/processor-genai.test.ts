// genai: SSE / NDJSON reassembly at random split points, recognition by content for every API
// shape, extraction of the GenAI attributes, content capture (capped, redacted), agents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { NdjsonParser, SseParser } from '../../src/processors/genai/stream';
import { analyze, recognizeRequest, responseEvents } from '../../src/processors/genai/recognize';
import { GenAiProcessor, genaiProcessorFactory } from '../../src/processors/genai';
import { SpanKind, type InspectedBody, type SpanRecord } from '../../src/core/types';
import { DISCARD, makeSpan, memoryLogger } from './helpers/fakes';
import { prng } from './http-fixtures';

const SSE =
  ': keep-alive comment\r\n\r\nevent: message_start\r\ndata: {"a":1}\r\n\r\n' +
  'data: line one\ndata: line two\n\n' +
  'event: ping\rdata: {"é":"ü€𝄞"}\r\r' +
  'data: [DONE]\n\n' +
  'data: unterminated';
const EXPECTED = [
  { event: 'message_start', data: '{"a":1}' },
  { event: '', data: 'line one\nline two' },
  { event: 'ping', data: '{"é":"ü€𝄞"}' },
  { event: '', data: '[DONE]' },
];

function body(text: string | Buffer, cuts: number[], contentType: string, encoding?: string): InspectedBody {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const parts: Buffer[] = [];
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    parts.push(buf.subarray(at, c));
    at = c;
  }
  return { parts, times: parts.map((_, i) => BigInt(1000 + i)), truncated: false, contentType, ...(encoding ? { contentEncoding: encoding } : {}) };
}

test('SSE: whole, byte by byte and 500 random splits (CRLF, CR, multi-byte characters across pieces) give the same events', () => {
  const whole = responseEvents(body(SSE, [], 'text/event-stream')).events.map(({ event, data }) => ({ event, data }));
  assert.deepEqual(whole, EXPECTED);
  const len = Buffer.byteLength(SSE);
  const bytes = responseEvents(
    body(
      SSE,
      Array.from({ length: len - 1 }, (_, i) => i + 1),
      'text/event-stream',
    ),
  ).events;
  assert.deepEqual(
    bytes.map(({ event, data }) => ({ event, data })),
    EXPECTED,
  );
  const rnd = prng(7);
  for (let i = 0; i < 500; i++) {
    const cuts = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => 1 + Math.floor(rnd() * (len - 1))))].sort((a, b) => a - b);
    const ev = responseEvents(body(SSE, cuts, 'text/event-stream')).events;
    assert.deepEqual(
      ev.map(({ event, data }) => ({ event, data })),
      EXPECTED,
      `cuts ${cuts}`,
    );
  }
});

test('SSE: each event carries the time of the piece that completed it', () => {
  const p = new SseParser();
  p.push('data: a\n', 1n);
  p.push('\ndata: b', 2n);
  p.push('\n\n', 3n);
  assert.deepEqual(
    p.events.map((e) => [e.data, e.time]),
    [
      ['a', 2n],
      ['b', 3n],
    ],
  );
});

test('NDJSON: lines across pieces; a last line without LF counts at the end', () => {
  const p = new NdjsonParser();
  p.push('{"a":', 1n);
  p.push('1}\n\n{"b":2}\n{"c"', 2n);
  p.push(':3}', 3n);
  p.end(4n);
  assert.deepEqual(
    p.events.map((e) => [e.data, e.time]),
    [
      ['{"a":1}', 2n],
      ['{"b":2}', 2n],
      ['{"c":3}', 4n],
    ],
  );
});

test('recognition by path and body shape, on any host; non-LLM JSON is not recognised', () => {
  const chat = { model: 'm', messages: [] };
  assert.equal(recognizeRequest('/v1/chat/completions', chat)!.api, 'openai.chat_completions');
  assert.equal(recognizeRequest('/openai/deployments/x/chat/completions?api-version=1', chat)!.api, 'openai.chat_completions');
  assert.equal(recognizeRequest('/v1/completions', { model: 'm', prompt: 'p' })!.api, 'openai.completions');
  assert.equal(recognizeRequest('/v1/embeddings', { model: 'm', input: 'p' })!.api, 'openai.embeddings');
  assert.equal(recognizeRequest('/v1/responses', { model: 'm', input: 'p' })!.api, 'openai.responses');
  assert.equal(recognizeRequest('/v1/messages', { model: 'm', messages: [], max_tokens: 5 })!.api, 'anthropic.messages');
  assert.equal(recognizeRequest('/api/chat', chat)!.api, 'ollama.chat');
  assert.equal(recognizeRequest('/api/generate', { model: 'm', prompt: 'x' })!.api, 'ollama.generate');
  assert.equal(recognizeRequest('/api/embed', { model: 'm', input: 'x' })!.api, 'ollama.embed');
  assert.deepEqual(recognizeRequest('/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse', { contents: [] }), {
    api: 'gemini.generate_content',
    model: 'gemini-1.5-pro',
  });
  assert.equal(recognizeRequest('/llm/proxy', chat)!.api, 'openai.chat_completions', 'a gateway path: the body decides');
  assert.equal(recognizeRequest('/llm/proxy', { model: 'm', messages: [], max_tokens: 5, system: 's' })!.api, 'anthropic.messages');
  assert.equal(recognizeRequest('/v1/chat/completions', { messages: [] }), null, 'no model');
  assert.equal(recognizeRequest('/api/orders', { id: 1, items: [] }), null);
  assert.equal(recognizeRequest('/v1/chat/completions', [1, 2]), null);
});

test('analyze: OpenAI stream with include_usage, split anywhere, gzip-encoded JSON, Responses API events', () => {
  const chunk = (o: object) => `data: ${JSON.stringify(o)}\n\n`;
  const sse =
    chunk({ id: 'c1', model: 'gpt-x', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }) +
    chunk({ id: 'c1', model: 'gpt-x', choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }) +
    chunk({ id: 'c1', model: 'gpt-x', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }) +
    chunk({ id: 'c1', model: 'gpt-x', choices: [], usage: { prompt_tokens: 3, completion_tokens: 1 } }) +
    'data: [DONE]\n\n';
  const req = { model: 'gpt', messages: [{ role: 'user', content: 'x' }], stream: true, max_completion_tokens: 9 };
  const rnd = prng(3);
  for (let i = 0; i < 100; i++) {
    const cuts = [...new Set(Array.from({ length: 6 }, () => 1 + Math.floor(rnd() * (sse.length - 1))))].sort((a, b) => a - b);
    const c = analyze('/v1/chat/completions', req, body(sse, cuts, 'text/event-stream'), false)!;
    assert.deepEqual(
      [c.stream, c.chunks, c.responseId, c.responseModel, c.finishReasons, c.inputTokens, c.outputTokens, c.output, c.params['gen_ai.request.max_tokens']],
      [true, 4, 'c1', 'gpt-x', ['stop'], 3, 1, 'Hi', 9],
    );
    assert.equal(c.firstChunkTime, BigInt(1000 + cuts.filter((x) => x < sse.indexOf('\n\n') + 2).length));
  }
  const gz = zlib.gzipSync(
    JSON.stringify({
      id: 'r',
      model: 'gpt-x',
      choices: [{ finish_reason: 'stop', message: { content: 'ok' } }],
      usage: { prompt_tokens: 1, completion_tokens: 2 },
    }),
  );
  const g = analyze('/v1/chat/completions', { model: 'gpt', messages: [] }, body(gz, [10], 'application/json', 'gzip'), false)!;
  assert.deepEqual([g.stream, g.outputTokens, g.output], [false, 2, 'ok']);
  const resp =
    `event: response.created\ndata: ${JSON.stringify({ type: 'response.created', response: { id: 'resp_1', model: 'gpt-4.1', status: 'in_progress' } })}\n\n` +
    `event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', delta: 'Yo' })}\n\n` +
    `event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', response: { id: 'resp_1', model: 'gpt-4.1', status: 'completed', usage: { input_tokens: 4, output_tokens: 2 } } })}\n\n`;
  const r = analyze('/v1/responses', { model: 'gpt-4.1', input: 'hi', stream: true, max_output_tokens: 20 }, body(resp, [33], 'text/event-stream'), false)!;
  assert.deepEqual(
    [r.operation, r.responseId, r.finishReasons, r.inputTokens, r.outputTokens, r.output, r.chunks],
    ['chat', 'resp_1', ['completed'], 4, 2, 'Yo', 3],
  );
});

function llmSpan(kind: SpanRecord['kind'], cmd: string, req: object, res: string, ct = 'application/json'): SpanRecord {
  const s = makeSpan({
    kind,
    attributes: { 'url.full': 'http://gw.local:8080/v1/chat/completions' },
    startTimeUnixNano: 500n,
    resource: { attributes: { 'process.command_line': cmd, 'process.executable.name': 'python3.12' } },
  });
  s.internal = { comm: 'python3', request: body(JSON.stringify(req), [], 'application/json'), response: body(res, [], ct) };
  return s;
}

test('processor: attributes, span name, agent rules (glob, regexp, comm), resource copies, bodies dropped, stats', () => {
  const out: SpanRecord[] = [];
  const p = new GenAiProcessor(
    genaiProcessorFactory.parseConfig(
      {
        agents: [
          { match: '*planner*', name: 'planner' },
          { match: '/--role[= ]critic/', name: 'critic' },
        ],
      },
      'processors::genai',
    ),
    { id: 'genai', logger: memoryLogger() },
    { consumeSpans: (s) => void out.push(...s) },
  );
  const res = JSON.stringify({
    id: 'x',
    model: 'm-1',
    choices: [{ finish_reason: 'stop', message: { content: 'ok' } }],
    usage: { prompt_tokens: 2, completion_tokens: 1 },
  });
  const a = llmSpan(SpanKind.CLIENT, 'python3 planner.py', { model: 'm', messages: [] }, res);
  const b = llmSpan(SpanKind.CLIENT, 'python3 agent.py --role critic', { model: 'm', messages: [] }, res);
  const c = llmSpan(SpanKind.CLIENT, 'python3 other.py', { model: 'm', messages: [] }, res);
  const d = llmSpan(SpanKind.SERVER, 'vllm serve', { model: 'm', messages: [] }, res);
  const other = makeSpan({ attributes: { 'url.full': 'http://x/api/orders' } });
  other.internal = { request: body('{"id":1}', [], 'application/json') };
  p.consumeSpans([a, b, c, d, other]);
  assert.deepEqual(
    out.map((s) => s.attributes['gen_ai.agent.name']),
    ['planner', 'critic', 'python3', undefined, undefined],
  );
  assert.equal(a.name, 'chat m');
  assert.equal(a.resource.attributes['gen_ai.agent.name'], 'planner');
  assert.equal(d.resource.attributes['gen_ai.agent.name'], undefined);
  assert.equal(other.name, 'GET /api/items', 'untouched');
  for (const s of out) assert.equal(s.internal?.request, undefined, 'bodies are dropped once read');
  assert.equal(p.stats()['calls'], 4);
  assert.equal(p.stats()['calls.openai.chat_completions'], 4);
});

test('processor: a Node 24 main thread\'s comm ("MainThread") names no agent: the executable name does', () => {
  const p = new GenAiProcessor(genaiProcessorFactory.parseConfig({}, 'processors::genai'), { id: 'genai', logger: memoryLogger() }, DISCARD);
  const res = JSON.stringify({ id: 'x', model: 'm-1', choices: [{ finish_reason: 'stop', message: { content: 'ok' } }] });
  const node = llmSpan(SpanKind.CLIENT, 'node client.js', { model: 'm', messages: [] }, res);
  node.internal!.comm = 'MainThread';
  node.resource.attributes['process.executable.name'] = 'node';
  const titled = llmSpan(SpanKind.CLIENT, 'claude', { model: 'm', messages: [] }, res);
  titled.internal!.comm = 'claude'; // process.title sets the comm again
  p.consumeSpans([node, titled]);
  assert.deepEqual([node.attributes['gen_ai.agent.name'], titled.attributes['gen_ai.agent.name']], ['node', 'claude']);
});

test('processor: content is off by default; on, it is redacted and capped', () => {
  const req = { model: 'm', messages: [{ role: 'user', content: 'my api_key is in the JSON', api_key: 'sk-SECRET' }] };
  const res = JSON.stringify({ choices: [{ finish_reason: 'stop', message: { content: 'x'.repeat(300) } }] });
  const off = new GenAiProcessor(genaiProcessorFactory.parseConfig({}, 'p'), { id: 'genai', logger: memoryLogger() }, DISCARD);
  const s1 = llmSpan(SpanKind.CLIENT, 'a', req, res);
  off.consumeSpans([s1]);
  assert.equal(s1.attributes['gen_ai.input.messages'], undefined);
  const on = new GenAiProcessor(
    genaiProcessorFactory.parseConfig({ capture_content: true, max_content_bytes: 100 }, 'p'),
    {
      id: 'genai',
      logger: memoryLogger(),
    },
    DISCARD,
  );
  const s2 = llmSpan(SpanKind.CLIENT, 'a', req, res);
  on.consumeSpans([s2]);
  assert.equal(s2.attributes['gen_ai.input.messages'], JSON.stringify([{ role: 'user', content: 'my api_key is in the JSON', api_key: 'REDACTED' }]));
  assert.equal(Buffer.byteLength(String(s2.attributes['gen_ai.output.messages'])), 100);
  assert.equal(s2.attributes['tcpsniff.gen_ai.content_truncated'], true);
});

test('config: agent rules need match and name; bad regexps name their path', () => {
  assert.throws(() => genaiProcessorFactory.parseConfig({ agents: [{ match: 'x' }] }, 'processors::genai'), /processors::genai::agents::0::name: is required/);
  assert.throws(
    () => genaiProcessorFactory.parseConfig({ agents: [{ match: '/(/', name: 'n' }] }, 'processors::genai'),
    /agents::0::match: invalid regular expression/,
  );
});
