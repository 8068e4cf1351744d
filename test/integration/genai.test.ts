// GenAI spans end to end: the official openai and @anthropic-ai/sdk clients, the ollama JS client
// and Gemini-shaped fetches against a local compatible server (test/fixtures/llm-server.js), once
// direct and once through nginx (proxy_pass), through the real collector (genai + redaction), with
// exact gen_ai.* attributes, streaming timings and agent attribution from command lines.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile, type ChildProcess } from 'node:child_process';
import { CLIENT, ROOT, SERVER, certIn, freePort, run, startServer, stop, withCollector, type CollectorRun, type FlatSpan } from './harness';

const FIX = path.join(ROOT, 'test', 'fixtures');
const dump = (spans: FlatSpan[]) => JSON.stringify(spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 1);

let port = 0;
let server: ChildProcess | undefined;
before(async () => {
  port = await freePort();
  server = await startServer(process.execPath, [path.join(FIX, 'llm-server.js'), String(port)], '127.0.0.1', port);
});
after(async () => stop(server));

const GENAI = {
  agents: [
    { match: '*llm-clients.js openai*', name: 'writer-agent' },
    { match: '/llm-clients\\.js anthropic/', name: 'critic-agent' },
  ],
};

async function collect(ports: number[], traffic: () => Promise<void>, genai: Record<string, unknown> = GENAI): Promise<CollectorRun> {
  const r = await withCollector(
    {
      ports,
      processors: [
        ['genai', genai],
        ['redaction', {}],
      ],
    },
    traffic,
  );
  assert.equal(r.exitCode, 0, r.stderr);
  for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
  return r;
}

const genaiOf = (s: FlatSpan) => Object.fromEntries(Object.entries(s.attributes).filter(([k]) => k.startsWith('gen_ai.') || k.startsWith('tcpsniff.gen_ai.')));
const byApi = (spans: FlatSpan[], api: string, kind: number) => spans.filter((s) => s.attributes['tcpsniff.gen_ai.api'] === api && s.kind === kind);
const client = (b: string, which: string) => run(process.execPath, [path.join(FIX, 'llm-clients.js'), which, b]);

/** Removes timing values (checked separately) so the rest compares exactly. */
function stable(a: Record<string, unknown>) {
  const { ['gen_ai.response.time_to_first_chunk']: ttfc, ...rest } = a;
  return { rest, ttfc: ttfc as number | undefined };
}

function checkOpenAi(spans: FlatSpan[], agent: string | undefined) {
  for (const kind of [CLIENT, SERVER]) {
    const chat = byApi(spans, 'openai.chat_completions', kind);
    assert.equal(chat.length, 2, `${kind}: ${dump(spans)}`);
    const [plain, streamed] = chat.sort((a, b) => (a.start < b.start ? -1 : 1));
    const who = kind === CLIENT && agent ? { 'gen_ai.agent.name': agent } : {};
    assert.equal(plain!.name, 'chat gpt-4o-mini');
    assert.deepEqual(genaiOf(plain!), {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'tcpsniff.gen_ai.api': 'openai.chat_completions',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stream': false,
      'gen_ai.response.id': 'chatcmpl-local-1',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 5,
      'gen_ai.usage.cache_read.input_tokens': 3,
      'gen_ai.output.type': 'text',
      ...who,
    });
    const s = stable(genaiOf(streamed!));
    assert.deepEqual(s.rest, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'tcpsniff.gen_ai.api': 'openai.chat_completions',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.request.max_tokens': 7,
      'gen_ai.request.stream': true,
      'gen_ai.response.id': 'chatcmpl-local-1',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.response.finish_reasons': ['length'],
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 5,
      'tcpsniff.gen_ai.chunk_count': 8, // role, 5 words, finish, usage ([DONE] is not a chunk)
      'gen_ai.output.type': 'text',
      ...who,
    });
    // The server waits 20 ms before the first chunk, then streams for longer.
    const dur = Number(streamed!.end - streamed!.start) / 1e9;
    assert.ok(s.ttfc! >= 0.015 && s.ttfc! < dur, `time to first chunk ${s.ttfc} (span ${dur}s)`);
    const emb = byApi(spans, 'openai.embeddings', kind);
    assert.equal(emb.length, 1);
    assert.equal(emb[0]!.name, 'embeddings text-embedding-3-small');
    assert.deepEqual(genaiOf(emb[0]!), {
      'gen_ai.operation.name': 'embeddings',
      'gen_ai.provider.name': 'openai',
      'tcpsniff.gen_ai.api': 'openai.embeddings',
      'gen_ai.request.model': 'text-embedding-3-small',
      'gen_ai.request.encoding_formats': ['base64'], // what the openai SDK asks for by default
      'gen_ai.response.model': 'text-embedding-3-small',
      'gen_ai.usage.input_tokens': 8,
      ...who,
    });
  }
}

test('openai SDK (chat, streamed chat with include_usage, embeddings) direct: exact GenAI spans on both sides', async () => {
  let lines: string[] = [];
  const r = await collect([port], async () => {
    lines = (await client(`http://127.0.0.1:${port}`, 'openai')).trim().split('\n');
  });
  const seen = lines.map((l) => JSON.parse(l));
  assert.deepEqual(seen[1].usage, { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 }, 'the client saw the usage the span reports');
  checkOpenAi(r.spans, 'writer-agent');
  const res = byApi(r.spans, 'openai.chat_completions', CLIENT)[0]!.resource;
  assert.equal(res['gen_ai.agent.name'], 'writer-agent', 'the agent is on the resource too');
  assert.ok(!dump(r.spans).includes('sk-test-not-a-real-key'));
});

test("openai SDK over HTTPS to a local TLS server (Node's OpenSSL on both ends): the same GenAI spans as over plain HTTP", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-genai-tls-'));
  const { cert, key } = await certIn(dir);
  const tlsPort = await freePort();
  const tlsServer = await startServer(process.execPath, [path.join(FIX, 'llm-server.js'), String(tlsPort), cert, key], '127.0.0.1', tlsPort);
  try {
    let out = '';
    const r = await collect([tlsPort], async () => {
      // The SDK verifies the server's certificate: the test's own CA file.
      out = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          [path.join(FIX, 'llm-clients.js'), 'openai', `https://127.0.0.1:${tlsPort}`],
          { env: { ...process.env, NODE_EXTRA_CA_CERTS: cert } },
          (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout)),
        ),
      );
    });
    assert.deepEqual(JSON.parse(out.trim().split('\n')[1]!).usage, { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 });
    checkOpenAi(r.spans, 'writer-agent');
    for (const s of r.spans) {
      if (s.kind === SERVER) assert.equal(s.attributes['url.scheme'], 'https');
      else assert.match(String(s.attributes['url.full']), /^https:\/\//);
    }
    assert.ok(!dump(r.spans).includes('sk-test-not-a-real-key'), 'the API key is redacted in the plaintext too');
  } finally {
    await stop(tlsServer);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('anthropic SDK (messages, streamed messages) and agent rules per process', async () => {
  const r = await collect([port], async () => {
    await client(`http://127.0.0.1:${port}`, 'anthropic');
  });
  for (const kind of [CLIENT, SERVER]) {
    const spans = byApi(r.spans, 'anthropic.messages', kind).sort((a, b) => (a.start < b.start ? -1 : 1));
    assert.equal(spans.length, 2, dump(r.spans));
    const who = kind === CLIENT ? { 'gen_ai.agent.name': 'critic-agent' } : {};
    assert.equal(spans[0]!.name, 'chat claude-3-5-haiku-latest');
    assert.deepEqual(genaiOf(spans[0]!), {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'tcpsniff.gen_ai.api': 'anthropic.messages',
      'gen_ai.request.model': 'claude-3-5-haiku-latest',
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.stream': false,
      'gen_ai.response.id': 'msg_local_01',
      'gen_ai.response.model': 'claude-3-5-haiku-latest',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 9,
      'gen_ai.usage.cache_read.input_tokens': 2,
      'gen_ai.usage.cache_creation.input_tokens': 0,
      'gen_ai.output.type': 'text',
      ...who,
    });
    const s = stable(genaiOf(spans[1]!));
    assert.deepEqual(s.rest, {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'tcpsniff.gen_ai.api': 'anthropic.messages',
      'gen_ai.request.model': 'claude-3-5-haiku-latest',
      'gen_ai.request.max_tokens': 12,
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.stream': true,
      'gen_ai.response.id': 'msg_local_01',
      'gen_ai.response.model': 'claude-3-5-haiku-latest',
      'gen_ai.response.finish_reasons': ['max_tokens'],
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 12, // message_delta's final count
      'gen_ai.usage.cache_read.input_tokens': 0,
      'gen_ai.usage.cache_creation.input_tokens': 0,
      'tcpsniff.gen_ai.chunk_count': 11,
      'gen_ai.output.type': 'text',
      ...who,
    });
    assert.ok(s.ttfc! >= 0.015, String(s.ttfc));
  }
});

test('two client processes, three agents: rules by command line, else the comm', async () => {
  const r = await collect([port], async () => {
    await Promise.all([
      client(`http://127.0.0.1:${port}`, 'openai'),
      client(`http://127.0.0.1:${port}`, 'anthropic'),
      client(`http://127.0.0.1:${port}`, 'ollama'),
    ]);
  });
  const agents = (api: string) => [...new Set(byApi(r.spans, api, CLIENT).map((s) => s.attributes['gen_ai.agent.name']))];
  assert.deepEqual(agents('openai.chat_completions'), ['writer-agent']);
  assert.deepEqual(agents('anthropic.messages'), ['critic-agent']);
  assert.deepEqual(agents('ollama.chat'), ['node']);
  assert.deepEqual(
    [...new Set(byApi(r.spans, 'ollama.chat', SERVER).map((s) => s.attributes['gen_ai.agent.name']))],
    [undefined],
    'the serving side is no agent',
  );
});

test('ollama client (NDJSON stream, generate) and Gemini REST (generateContent, streamGenerateContent SSE)', async () => {
  const r = await collect(
    [port],
    async () => {
      await client(`http://127.0.0.1:${port}`, 'ollama');
      await client(`http://127.0.0.1:${port}`, 'gemini');
    },
    { capture_content: true, max_content_bytes: 200 },
  );
  const [chat] = byApi(r.spans, 'ollama.chat', CLIENT);
  const s = stable(genaiOf(chat!));
  assert.equal(chat!.name, 'chat llama3.2');
  assert.deepEqual(s.rest, {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'ollama',
    'tcpsniff.gen_ai.api': 'ollama.chat',
    'gen_ai.request.model': 'llama3.2',
    'gen_ai.request.max_tokens': 30,
    'gen_ai.request.temperature': 0.1,
    'gen_ai.request.stream': true,
    'gen_ai.response.model': 'llama3.2',
    'gen_ai.response.finish_reasons': ['stop'],
    'gen_ai.usage.input_tokens': 26,
    'gen_ai.usage.output_tokens': 7,
    'tcpsniff.gen_ai.chunk_count': 6,
    'gen_ai.output.type': 'text',
    'gen_ai.agent.name': 'node',
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: 'Hi' }]),
    'gen_ai.output.messages': JSON.stringify([
      { role: 'assistant', parts: [{ type: 'text', content: 'Hello from the local model. ' }], finish_reason: 'stop' },
    ]),
  });
  assert.ok(s.ttfc! >= 0.015);
  const [gen] = byApi(r.spans, 'ollama.generate', CLIENT);
  assert.equal(gen!.name, 'text_completion llama3.2');
  assert.equal(gen!.attributes['gen_ai.request.stream'], false);
  assert.equal(gen!.attributes['gen_ai.usage.output_tokens'], 7);

  const gem = byApi(r.spans, 'gemini.generate_content', CLIENT).sort((a, b) => (a.start < b.start ? -1 : 1));
  assert.equal(gem.length, 2, dump(r.spans));
  for (const [i, g] of gem.entries()) {
    const { rest } = stable(genaiOf(g));
    delete rest['gen_ai.input.messages'];
    delete rest['gen_ai.output.messages'];
    assert.equal(g.name, 'generate_content gemini-2.0-flash');
    assert.deepEqual(rest, {
      'gen_ai.operation.name': 'generate_content',
      'gen_ai.provider.name': 'gcp.gemini',
      'tcpsniff.gen_ai.api': 'gemini.generate_content',
      'gen_ai.request.model': 'gemini-2.0-flash',
      'gen_ai.request.max_tokens': 40,
      'gen_ai.request.temperature': 0.3,
      'gen_ai.request.top_p': 0.8,
      'gen_ai.request.top_k': 20,
      'gen_ai.request.stream': i === 1,
      'gen_ai.response.id': 'gem-resp-1',
      'gen_ai.response.model': 'gemini-2.0-flash-001',
      'gen_ai.response.finish_reasons': ['STOP'],
      'gen_ai.usage.input_tokens': 8,
      'gen_ai.usage.output_tokens': 6,
      ...(i === 1 ? { 'tcpsniff.gen_ai.chunk_count': 5 } : {}),
      'gen_ai.output.type': 'text',
      'gen_ai.agent.name': 'node',
    });
  }
  assert.ok(!dump(r.spans).includes('gem-test-not-real'));
});

test('through a local nginx gateway (proxy_pass): both hops are GenAI spans with the same model and tokens', async () => {
  const gw = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-gw-'));
  fs.writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1; error_log ${dir}/error.log; pid ${dir}/nginx.pid; daemon off;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${gw};
    location / { proxy_pass http://127.0.0.1:${port}; proxy_http_version 1.1; proxy_buffering off; proxy_set_header Connection ""; }
  }
}
`,
  );
  const nginx = await startServer('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], '127.0.0.1', gw);
  try {
    const r = await collect([port, gw], async () => {
      await client(`http://127.0.0.1:${gw}`, 'openai');
    });
    const hop1 = r.spans.filter((s) => s.attributes['server.port'] === gw || s.attributes['url.full']?.toString().includes(`:${gw}/`));
    const hop2 = r.spans.filter((s) => !hop1.includes(s));
    checkOpenAi(hop1, 'writer-agent');
    checkOpenAi(hop2, 'nginx');
    assert.ok(
      hop2.some((s) => s.kind === CLIENT && s.resource['process.executable.name'] === 'nginx'),
      'nginx called the model server',
    );
  } finally {
    await stop(nginx);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
