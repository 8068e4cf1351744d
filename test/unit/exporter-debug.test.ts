import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DebugExporter, debugExporterFactory } from '../../src/exporters/debug';
import { SpanKind, StatusCode } from '../../src/core/types';
import { makeSpan, memoryLogger } from './helpers/fakes';

function capture(verbosity: string, writableLength = 0) {
  const written: string[] = [];
  const out = { write: (s: string) => (written.push(s), true), writableLength };
  const exp = new DebugExporter(debugExporterFactory.parseConfig({ verbosity }, 'exporters::debug'), { id: 'debug', logger: memoryLogger() }, out);
  return { exp, written };
}

const span = () =>
  makeSpan({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    kind: SpanKind.CLIENT,
    name: 'GET /api/items',
    startTimeUnixNano: 1_700_000_000_123_000_000n,
    endTimeUnixNano: 1_700_000_000_135_400_000n,
    attributes: {
      'http.request.method': 'GET',
      'url.full': 'http://shop.local/api/items?id=1',
      'http.response.status_code': 404,
      'server.address': 'shop.local',
    },
    status: { code: StatusCode.ERROR },
  });

test('normal: one line with time, kind, service, name, status, key attributes, duration, short ids', () => {
  const { exp, written } = capture('normal');
  exp.consumeSpans([span(), span()]);
  const lines = written.join('').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 2);
  assert.equal(
    lines[0],
    '2023-11-14T22:13:20.123Z CLIENT checkout "GET /api/items" ERROR method=GET url=http://shop.local/api/items?id=1 status=404 peer=shop.local dur=12.4ms trace=0af76519 span=b7ad6b71',
  );
  assert.equal(exp.stats()['spans.sent'], 2);
});

test('normal: a child span shows its parent id (trace assembly is visible on the console)', () => {
  const { exp, written } = capture('normal');
  exp.consumeSpans([{ ...span(), parentSpanId: '00f067aa0ba902b7' }]);
  assert.match(written.join(''), / trace=0af76519 span=b7ad6b71 parent=00f067aa\n$/);
});

test('basic is shorter; detailed adds every attribute and resource attribute', () => {
  const b = capture('basic');
  b.exp.consumeSpans([span()]);
  assert.equal(b.written.join(''), '2023-11-14T22:13:20.123Z CLIENT checkout "GET /api/items" ERROR dur=12.4ms\n');

  const d = capture('detailed');
  d.exp.consumeSpans([span()]);
  const text = d.written.join('');
  assert.match(text, /^2023-11-14T22:13:20\.123Z CLIENT checkout "GET \/api\/items" ERROR method=GET/);
  assert.match(text, /\n {4}ids: trace=0af7651916cd43dd8448eb211c80319c span=b7ad6b7169203331\n/);
  assert.match(text, /\n {4}server\.address=shop\.local\n/);
  assert.match(text, /\n {4}resource\.process\.pid=4242\n/);
});

test('a stdout that does not keep up drops and counts instead of buffering', () => {
  const { exp, written } = capture('normal', 64 * 1024 * 1024);
  exp.consumeSpans([span(), span(), span()]);
  assert.equal(written.length, 0);
  assert.deepEqual(exp.stats(), { 'spans.sent': 0, 'drops.output_backpressure': 3 });
});

test('start times: milliseconds right across second boundaries and out of order (the second is cached)', async () => {
  const { formatSpan } = await import('../../src/exporters/debug/format');
  const times = [
    0n,
    999_999n,
    1_000_000n,
    1_700_000_000_999_999_999n,
    1_700_000_001_000_000_000n,
    1_700_000_001_005_000_000n,
    1_700_000_000_050_000_000n,
    253_402_300_799_999_000_000n,
  ];
  for (const t of times) {
    const line = formatSpan(makeSpan({ startTimeUnixNano: t, endTimeUnixNano: t }), 'basic');
    assert.equal(line.split(' ')[0], new Date(Number(t / 1_000_000n)).toISOString(), String(t));
  }
});
