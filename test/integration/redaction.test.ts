// The canary: one unique secret, sent in an Authorization header, a cookie, a query parameter, a
// JSON request body, a Set-Cookie and a JSON response body (HTTP/1.1), and in HPACK never-indexed
// and API-key headers (HTTP/2), through the real collector with bodies and headers captured. It must
// not appear in the file exporter's output, the debug exporter's stdout, or any log line. And a
// secret on a client's command line (curl's argv: -H Authorization, a URL's api_key, -d JSON, -u)
// reaches no output either, whether process.command_line is exported or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CLIENT, SERVER, run, withCollector, type FlatSpan } from './harness';

const dump = (spans: FlatSpan[]) => JSON.stringify(spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 1);

async function http1Traffic(secret: string): Promise<number> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      res.setHeader('set-cookie', `sid=${secret}; HttpOnly`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, access_token: secret, echo: JSON.parse(body).user }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const payload = JSON.stringify({ user: 'alice', password: secret, nested: { apiKey: secret, max_tokens: 5 } });
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/login?user=alice&api_key=${secret}`,
        headers: {
          authorization: `Bearer ${secret}`,
          cookie: `session=${secret}; theme=dark`,
          'x-api-key': secret,
          'content-type': 'application/json',
          'x-request-id': 'req-1',
        },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  await new Promise((r) => server.close(r));
  return port;
}

async function http2Traffic(secret: string): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  await new Promise<void>((resolve, reject) => {
    const req = client.request({
      ':path': '/h2',
      'x-opaque': secret, // never-indexed (sensitive) below: the http processor never exports it
      'x-goog-api-key': secret,
      [http2.sensitiveHeaders]: ['x-opaque'],
    });
    req.on('error', reject);
    req.resume();
    req.on('end', resolve);
    req.end();
  });
  client.close();
  await new Promise((r) => server.close(r));
  return port;
}

test('canary: a secret in headers, cookies, query, JSON bodies and never-indexed fields never leaves the collector', async () => {
  const secret = `canary-${randomBytes(12).toString('hex')}`;
  let config = '';
  let ports: number[] = [];
  const r = await withCollector(
    {
      http: {
        capture_bodies: true,
        capture_headers: ['authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-goog-api-key', 'x-opaque', 'x-request-id', 'content-type'],
      },
      processors: [['redaction', {}]],
      exporters: { debug: { verbosity: 'detailed' } },
      tcp: { backend: 'syscalls' },
      onConfig: (y) => (config = y),
    },
    async () => {
      ports = [await http1Traffic(secret), await http2Traffic(secret)];
    },
  );
  assert.equal(r.exitCode, 0, r.stderr);
  assert.ok(!config.includes(secret));
  const mine = r.spans.filter((s) => ports.includes(Number(s.attributes['server.port'])));
  const out = dump(r.spans);
  assert.ok(!out.includes(secret), `the secret reached the file exporter:\n${out}`);
  assert.ok(!r.stderr.includes(secret), `the secret reached stdout/stderr (debug exporter or logs)`);
  assert.ok(r.stderr.includes('http.request.header.authorization=[REDACTED]'), `the debug exporter printed the detailed spans:\n${r.stderr}`);

  const h1 = mine.filter((s) => s.attributes['network.protocol.version'] === '1.1');
  assert.equal(h1.length, 2, dump(mine)); // CLIENT and SERVER
  for (const s of h1) {
    const a = s.attributes;
    assert.deepEqual(a['http.request.header.authorization'], ['REDACTED']);
    assert.deepEqual(a['http.request.header.cookie'], ['REDACTED']);
    assert.deepEqual(a['http.request.header.x-api-key'], ['REDACTED']);
    assert.deepEqual(a['http.response.header.set-cookie'], ['REDACTED']);
    assert.deepEqual(a['http.request.header.x-request-id'], ['req-1']);
    assert.deepEqual(a['http.request.header.content-type'], ['application/json']);
    assert.equal(a['http.request.body.content'], JSON.stringify({ user: 'alice', password: 'REDACTED', nested: { apiKey: 'REDACTED', max_tokens: 5 } }));
    assert.equal(a['http.response.body.content'], JSON.stringify({ ok: true, access_token: 'REDACTED', echo: 'alice' }));
    const url = s.kind === CLIENT ? String(a['url.full']) : String(a['url.query']);
    assert.match(url, /api_key=REDACTED/);
    assert.equal(a['tcpsniff.redacted.count'], 8, dump([s]));
    assert.deepEqual(
      [...(a['tcpsniff.redacted'] as string[])].sort(),
      [
        'http.request.body.content#apiKey',
        'http.request.body.content#password',
        'http.request.header.authorization',
        'http.request.header.cookie',
        'http.request.header.x-api-key',
        'http.response.body.content#access_token',
        'http.response.header.set-cookie',
        s.kind === CLIENT ? 'url.full' : 'url.query',
      ].sort(),
    );
  }
  const h2 = mine.filter((s) => s.attributes['network.protocol.version'] === '2');
  assert.deepEqual(h2.map((s) => s.kind).sort(), [SERVER, CLIENT].sort(), dump(mine));
  for (const s of h2) {
    assert.deepEqual(s.attributes['http.request.header.x-opaque'], ['REDACTED']);
    assert.deepEqual(s.attributes['http.request.header.x-goog-api-key'], ['REDACTED']);
    assert.ok((s.attributes['tcpsniff.redacted'] as string[]).includes('http.request.header.x-opaque'));
    assert.ok(Number(s.attributes['tcpsniff.h2.sensitive_headers']) >= 1);
  }
});

const CAPTURE = { capture_bodies: true, capture_headers: ['authorization'] };

/** A JSON echo server and one curl call carrying `secret` in four places of its argv. */
async function curlWithSecrets(secret: string): Promise<{ port: number; argv: string[] }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{"ok":true}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const argv = [
    '-sS',
    '-o',
    '/dev/null',
    '-H',
    `Authorization: Bearer ${secret}`,
    '-u',
    `alice:${secret}`,
    '-d',
    JSON.stringify({ user: 'alice', password: secret }),
    `http://127.0.0.1:${port}/v1/x?api_key=${secret}&model=m`,
  ];
  await run('curl', argv);
  await new Promise((r) => server.close(r));
  return { port, argv };
}

for (const [title, http, processors] of [
  ['command line not exported (the default)', CAPTURE, [['redaction', {}]]],
  ['command line exported, redaction processor on', { ...CAPTURE, command_line: true }, [['redaction', {}]]],
  // Headers and bodies are only captured where a redaction processor masks them; the URL and the
  // command line are redacted by the http processor itself.
  ['command line exported, no redaction processor', { command_line: true }, []],
] as Array<[string, Record<string, unknown>, Array<[string, unknown]>]>) {
  test(`canary: a secret in curl's argv never leaves the collector — ${title}`, async () => {
    const secret = `canary-${randomBytes(12).toString('hex')}`;
    let port = 0;
    const r = await withCollector({ http, processors, exporters: { debug: { verbosity: 'detailed' } }, tcp: { backend: 'syscalls' } }, async () => {
      port = (await curlWithSecrets(secret)).port;
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const out = dump(r.spans);
    assert.ok(!out.includes(secret), `the secret reached the file exporter:\n${out}`);
    assert.ok(!r.stderr.includes(secret), `the secret reached stdout/stderr (debug exporter or logs):\n${r.stderr}`);
    const curl = r.spans.filter((s) => s.kind === CLIENT && Number(s.attributes['server.port']) === port);
    assert.equal(curl.length, 1, dump(r.spans));
    const cmd = curl[0]!.resource['process.command_line'];
    if (http.command_line !== true) {
      assert.equal(cmd, undefined, 'not exported unless asked for');
      assert.ok(!r.stderr.includes('resource.process.command_line'));
    } else {
      // curl blanks its own -u argument in memory once parsed (the kernel may read either).
      const cmdline = String(cmd).replace(/ -u {2,}-d /, ' -u REDACTED -d ');
      assert.equal(
        cmdline,
        `curl -sS -o /dev/null -H Authorization: REDACTED -u REDACTED -d {"user":"alice","password":"REDACTED"} http://127.0.0.1:${port}/v1/x?api_key=REDACTED&model=m`,
      );
      assert.ok(r.stderr.includes('resource.process.command_line='), 'the debug exporter printed the resource');
    }
  });
}
