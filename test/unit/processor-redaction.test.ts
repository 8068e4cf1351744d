// The redaction processor and its rules: headers, URLs, bodies (JSON, truncated JSON, SSE, forms),
// never-indexed fields, command lines, allow/deny lists, the summary attributes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedactionProcessor, redactionProcessorFactory } from '../../src/processors/redaction';
import { DEFAULT_POLICY, makePolicy, redactText } from '../../src/shared/redaction-rules';
import { redactArgs, redactCommandLine } from '../../src/shared/command-line-redaction';
import type { SpanRecord } from '../../src/core/types';
import { makeSpan, memoryLogger } from './helpers/fakes';

const P = 'processors::redaction';
const make = (raw: Record<string, unknown> = {}) => {
  const out: SpanRecord[] = [];
  const p = new RedactionProcessor(
    redactionProcessorFactory.parseConfig(raw, P),
    { id: 'redaction', logger: memoryLogger() },
    { consumeSpans: (s) => void out.push(...s) },
  );
  return { p, out };
};

test('rules: default header names, case-insensitive, allow list wins', () => {
  for (const h of [
    'Authorization',
    'proxy-authorization',
    'Cookie',
    'set-cookie',
    'X-Api-Key',
    'api-key',
    'x-goog-api-key',
    'x-auth-token',
    'x-amz-security-token',
    'openai-api-key',
  ])
    assert.ok(DEFAULT_POLICY.header(h), h);
  for (const h of ['content-type', 'user-agent', 'x-request-id', 'accept']) assert.ok(!DEFAULT_POLICY.header(h), h);
  const pol = makePolicy({ headers: ['x-tenant'], allow_headers: ['cookie'], body_keys: [], allow_body_keys: [], query_params: [], allow_query_params: [] });
  assert.ok(pol.header('X-Tenant'));
  assert.ok(!pol.header('Cookie'));
});

test('rules: body keys: secrets yes, token counts no; camelCase; custom and allowed keys', () => {
  for (const k of [
    'password',
    'api_key',
    'apiKey',
    'access_token',
    'refreshToken',
    'client_secret',
    'secret',
    'token',
    'Authorization',
    'x-api-key',
    'private_key',
    'sessionId',
    'key',
  ])
    assert.ok(DEFAULT_POLICY.bodyKey(k), k);
  for (const k of ['max_tokens', 'input_tokens', 'total_tokens', 'prompt_tokens', 'model', 'messages', 'content', 'keys', 'monkey'])
    assert.ok(!DEFAULT_POLICY.bodyKey(k), k);
  const pol = makePolicy({
    headers: [],
    allow_headers: [],
    body_keys: ['ssn', '/^card_/'],
    allow_body_keys: ['key'],
    query_params: [],
    allow_query_params: [],
  });
  assert.ok(pol.bodyKey('ssn') && pol.bodyKey('card_number'));
  assert.ok(!pol.bodyKey('key'));
});

test('redactText: JSON, truncated JSON, SSE lines, escaped quotes, forms, bearer tokens', () => {
  assert.deepEqual(redactText('{"a":1,"password":"p\\"w","n":{"token":"t"},"max_tokens":9}', DEFAULT_POLICY), {
    text: '{"a":1,"password":"REDACTED","n":{"token":"REDACTED"},"max_tokens":9}',
    fields: ['password', 'token'],
  });
  assert.equal(redactText('{"user":"a","api_key":"sk-12', DEFAULT_POLICY).text, '{"user":"a","api_key":"sk-12', 'an unterminated value is not a pair');
  assert.equal(redactText('{"user":"a","api_key":"sk-123","mo', DEFAULT_POLICY).text, '{"user":"a","api_key":"REDACTED","mo');
  assert.equal(
    redactText('data: {"secret": "x"}\n\ndata: {"secret": 42}\n\n', DEFAULT_POLICY).text,
    'data: {"secret": "REDACTED"}\n\ndata: {"secret": "REDACTED"}\n\n',
  );
  assert.equal(redactText('user=a&password=hunter2&api_key=k', DEFAULT_POLICY).text, 'user=a&password=REDACTED&api_key=REDACTED');
  assert.equal(redactText('called with Bearer abcdefghijkl now', DEFAULT_POLICY).text, 'called with Bearer REDACTED now');
  assert.deepEqual(redactText('{"model":"m","max_tokens":5}', DEFAULT_POLICY).fields, []);
});

test('command lines: flags and environment-style assignments', () => {
  const cmd = (c: string) => redactCommandLine(c, DEFAULT_POLICY);
  assert.equal(cmd('node agent.js --api-key=sk-1 --model gpt --token abc'), 'node agent.js --api-key=REDACTED --model gpt --token REDACTED');
  assert.equal(cmd('env OPENAI_API_KEY=sk-2 python x.py'), 'env OPENAI_API_KEY=REDACTED python x.py');
  assert.equal(cmd('python3 -m http.server 8080'), 'python3 -m http.server 8080');
});

test('command lines: every argument through the header, URL and body rules', () => {
  const argv = (...a: string[]) => redactArgs(a, DEFAULT_POLICY);
  const S = 'canary-s3cr3t';
  // curl: headers (-H, --header, glued), URL userinfo and credential parameters, -u, JSON and form data.
  assert.deepEqual(
    argv(
      'curl',
      '-sS',
      '-H',
      `Authorization: Bearer ${S}`,
      '--header',
      `Cookie: s=${S}`,
      `-HX-Api-Key:${S}`,
      '--header=Content-Type: application/json',
      `http://h/v1/x?a=1&api_key=${S}`,
      '-d',
      `{"user":"a","password":"${S}"}`,
    ),
    [
      'curl',
      '-sS',
      '-H',
      'Authorization: REDACTED',
      '--header',
      'Cookie: REDACTED',
      '-HX-Api-Key:REDACTED',
      '--header=Content-Type: application/json',
      'http://h/v1/x?a=1&api_key=REDACTED',
      '-d',
      '{"user":"a","password":"REDACTED"}',
    ],
  );
  assert.deepEqual(argv('curl', '-u', `alice:${S}`, `https://bob:${S}@h/`, `--user=alice:${S}`, `-ualice:${S}`), [
    'curl',
    '-u',
    'REDACTED',
    'https://REDACTED:REDACTED@h/',
    '--user=REDACTED',
    '-uREDACTED',
  ]);
  assert.deepEqual(argv('curl', '--data-urlencode', `password=${S}`, '--data', `user=a&token=${S}`), [
    'curl',
    '--data-urlencode',
    'password=REDACTED',
    '--data',
    'user=a&token=REDACTED',
  ]);
  // A username alone, or -u meaning something else, is no secret.
  assert.deepEqual(argv('python3', '-u', 'app.py'), ['python3', '-u', 'app.py']);
  // --*password*/--*token*/--*key*/--*secret*, separate or with =; a following option is no value.
  assert.deepEqual(argv('tool', '--db-password', S, '--client-secret=x', '--keyfile', '/k.pem', '--github-token', '--verbose', '--model', 'gpt'), [
    'tool',
    '--db-password',
    'REDACTED',
    '--client-secret=REDACTED',
    '--keyfile',
    'REDACTED',
    '--github-token',
    '--verbose',
    '--model',
    'gpt',
  ]);
  // Environment assignments (env, make), whatever follows.
  assert.deepEqual(argv('env', `PGPASSWORD=${S}`, `AWS_SECRET_ACCESS_KEY=${S}`, 'LANG=C', 'psql'), [
    'env',
    'PGPASSWORD=REDACTED',
    'AWS_SECRET_ACCESS_KEY=REDACTED',
    'LANG=C',
    'psql',
  ]);
  // A header the policy adds, and one it allows.
  const pol = makePolicy({ headers: ['x-tenant'], allow_headers: ['cookie'], body_keys: [], allow_body_keys: [], query_params: [], allow_query_params: [] });
  assert.deepEqual(redactArgs(['curl', '-H', 'X-Tenant: t1', '-H', 'Cookie: c'], pol), ['curl', '-H', 'X-Tenant: REDACTED', '-H', 'Cookie: c']);
  // A script in one argument: its words like arguments, quoted header values up to the quote.
  assert.deepEqual(argv('sh', '-c', `PGPASSWORD=${S} psql -h db`), ['sh', '-c', 'PGPASSWORD=REDACTED'], 'an assignment takes the rest of its argument');
  assert.deepEqual(
    argv('bash', '-c', `curl -H "Cookie: a=${S} b=${S}" -H 'X-Request-Id: 1' --token ${S} -d '{"password": "${S}"}' 'http://h/?key=${S}' -u a:${S}`),
    [
      'bash',
      '-c',
      `curl -H "Cookie: REDACTED REDACTED" -H 'X-Request-Id: 1' --token REDACTED -d '{"password": "REDACTED"}' 'http://h/?key=REDACTED' -u REDACTED`,
    ],
  );
  assert.deepEqual(argv('node', 'server.js', '--port', '8080'), ['node', 'server.js', '--port', '8080']);
  for (const out of [argv('curl', '-H', `Authorization: Basic ${S}`), argv('x', `Bearer ${S}`), argv('x', `--opt={"api_key":"${S}"}`)])
    assert.ok(!out.join(' ').includes(S), out.join(' '));
});

test('processor: headers masked (or removed), URLs, bodies, never-indexed, summary and stats', () => {
  const { p, out } = make();
  const span = makeSpan({
    attributes: {
      'http.request.header.authorization': ['Bearer x'],
      'http.request.header.content-type': ['application/json'],
      'http.response.header.set-cookie': ['a=1', 'b=2'],
      'url.full': 'http://u:p@h/x?a=1&api_key=REDACTED&Secret2=s',
      'http.request.body.content': '{"password":"x"}',
      'http.response.body.content': 'AAAA',
      'http.response.body.content.encoding': 'base64',
      'tcpsniff.h2.sensitive_headers': 1,
    },
    resource: { attributes: { 'process.command_line': 'agent --token abc' } },
  });
  span.internal = { redactedAtSource: ['http.request.header.x-opaque'] };
  p.consumeSpans([span]);
  const a = out[0]!.attributes;
  assert.deepEqual(a['http.request.header.authorization'], ['REDACTED']);
  assert.deepEqual(a['http.response.header.set-cookie'], ['REDACTED', 'REDACTED']);
  assert.deepEqual(a['http.request.header.content-type'], ['application/json']);
  assert.equal(a['url.full'], 'http://REDACTED:REDACTED@h/x?a=1&api_key=REDACTED&Secret2=s');
  assert.equal(a['http.request.body.content'], '{"password":"REDACTED"}');
  assert.equal(a['http.response.body.content'], 'AAAA');
  assert.deepEqual(a['tcpsniff.redacted'], [
    'http.request.header.authorization',
    'http.response.header.set-cookie',
    'url.full',
    'http.request.body.content#password',
    'http.request.header.x-opaque',
  ]);
  assert.equal(a['tcpsniff.redacted.count'], 7); // 1 + 2 headers, 2 in the URL (userinfo, api_key), 1 field, 1 never-indexed
  assert.equal(out[0]!.resource.attributes['process.command_line'], 'agent --token REDACTED');
  assert.equal(p.stats()['spans.redacted'], 1);
  assert.equal(p.stats()['values.redacted'], 7);

  const r = make({ header_action: 'remove', query_params: ['secret2'], remove_attributes: ['user_agent.*'], summary: false });
  r.p.consumeSpans([makeSpan({ attributes: { 'http.request.header.cookie': ['c'], 'url.query': 'Secret2=s', 'user_agent.original': 'x' } })]);
  assert.deepEqual(r.out[0]!.attributes, { 'url.query': 'Secret2=REDACTED' });
});

test('processor: the command line is redacted from the raw argv with its policy, once per resource', () => {
  const { p, out } = make({ headers: ['x-tenant'] });
  // As the http processor exports it (its default rules applied), with the raw argv beside it.
  const res = { attributes: { 'process.command_line': 'curl -H X-Tenant: t1 -u REDACTED' } };
  const internal = { processArgs: ['curl', '-H', 'X-Tenant: t1', '-u', 'a:b'] };
  p.consumeSpans([makeSpan({ resource: res }), makeSpan({ resource: res })].map((s) => Object.assign(s, { internal })));
  assert.equal(out[0]!.resource.attributes['process.command_line'], 'curl -H X-Tenant: REDACTED -u REDACTED');
  assert.equal(out[0]!.resource, out[1]!.resource);
  assert.equal(p.stats()['resources.command_lines'], 1);
  // Without an exported command line there is nothing to redact (and the argv stays internal).
  const bare = { attributes: { 'service.name': 'curl' } };
  p.consumeSpans([Object.assign(makeSpan({ resource: bare }), { internal })]);
  assert.equal(out[2]!.resource, bare);
});

test('processor: spans with nothing secret are untouched; resources shared and cached', () => {
  const { p, out } = make();
  const res = { attributes: { 'process.command_line': 'curl http://x' } };
  const a = makeSpan({ attributes: { 'url.path': '/' }, resource: res });
  const b = makeSpan({ attributes: {}, resource: res });
  p.consumeSpans([a, b]);
  assert.deepEqual(out[0]!.attributes, { 'url.path': '/' });
  assert.equal(out[0]!.resource, res);
  assert.equal(out[1]!.resource, res);
});

test('config: unknown keys and bad patterns name their path', () => {
  assert.throws(() => redactionProcessorFactory.parseConfig({ nope: 1 }, P), /processors::redaction::nope: unknown key/);
  assert.throws(() => redactionProcessorFactory.parseConfig({ headers: ['/(/'] }, P), /processors::redaction::headers::0: invalid pattern/);
  assert.throws(() => redactionProcessorFactory.parseConfig({ header_action: 'drop' }, P), /header_action: expected one of mask, remove/);
});
