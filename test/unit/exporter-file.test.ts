// The file exporter writes OTLP/JSON lines in the Collector file exporter's format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileExporter, fileExporterFactory } from '../../src/exporters/file';
import { SpanKind, StatusCode } from '../../src/core/types';
import { RESOURCE_A, RESOURCE_B, makeSpan, memoryLogger } from './helpers/fakes';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'file-exp-'));

test('one ExportTraceServiceRequest per line, grouped by resource, exact OTLP/JSON fields', async () => {
  const file = path.join(tmp(), 'nested', 'dir', 'spans.jsonl');
  const exp = new FileExporter(fileExporterFactory.parseConfig({ path: file, flush_interval: '0s' }, 'exporters::file'), {
    id: 'file',
    logger: memoryLogger(),
  });
  await exp.start();

  const server = makeSpan({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    name: 'POST /v1/chat/completions',
    kind: SpanKind.SERVER,
    startTimeUnixNano: 1_700_000_000_000_000_001n,
    endTimeUnixNano: 1_700_000_001_500_000_000n,
    attributes: {
      'http.request.method': 'POST',
      'http.response.status_code': 503,
      'tcpsniff.ratio': 0.25,
      'tcpsniff.truncated': true,
      'tcpsniff.list': ['a', 'b'],
      'tcpsniff.nums': [1, 2.5],
    },
    events: [{ name: 'gap', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'tcpsniff.gap.bytes': 1200 } }],
    status: { code: StatusCode.ERROR, message: 'HTTP 503' },
    resource: RESOURCE_A,
  });
  const client = makeSpan({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: '1111111111111111', resource: RESOURCE_B });
  const sameResource = makeSpan({ spanId: '2222222222222222', resource: RESOURCE_A });
  exp.consumeSpans([server, client, sameResource]);
  exp.consumeSpans([makeSpan({ spanId: '3333333333333333' })]);
  await exp.shutdown();

  const lines = fs.readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'every line ends with a newline');
  assert.equal(lines.length, 2, 'one line per batch');
  const first = JSON.parse(lines[0]!);
  assert.deepEqual(first, {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'checkout' } },
            { key: 'process.pid', value: { intValue: '4242' } },
            { key: 'host.name', value: { stringValue: 'node-1' } },
          ],
        },
        scopeSpans: [
          {
            scope: { name: 'tcpsniff-collector', version: '0.1.0' },
            spans: [
              {
                traceId: '0af7651916cd43dd8448eb211c80319c',
                spanId: 'b7ad6b7169203331',
                parentSpanId: '00f067aa0ba902b7',
                flags: 0x101, // sampled, HAS_IS_REMOTE; the parent is not a traceparent's
                name: 'POST /v1/chat/completions',
                kind: 2,
                startTimeUnixNano: '1700000000000000001',
                endTimeUnixNano: '1700000001500000000',
                attributes: [
                  { key: 'http.request.method', value: { stringValue: 'POST' } },
                  { key: 'http.response.status_code', value: { intValue: '503' } },
                  { key: 'tcpsniff.ratio', value: { doubleValue: 0.25 } },
                  { key: 'tcpsniff.truncated', value: { boolValue: true } },
                  { key: 'tcpsniff.list', value: { arrayValue: { values: [{ stringValue: 'a' }, { stringValue: 'b' }] } } },
                  { key: 'tcpsniff.nums', value: { arrayValue: { values: [{ intValue: '1' }, { doubleValue: 2.5 }] } } },
                ],
                events: [{ timeUnixNano: '1700000000500000000', name: 'gap', attributes: [{ key: 'tcpsniff.gap.bytes', value: { intValue: '1200' } }] }],
                status: { code: 2, message: 'HTTP 503' },
              },
              {
                traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                spanId: '2222222222222222',
                flags: 0x101,
                name: 'GET /api/items',
                kind: 3,
                startTimeUnixNano: '1700000000123456789',
                endTimeUnixNano: '1700000000135456789',
                attributes: [
                  { key: 'http.request.method', value: { stringValue: 'GET' } },
                  { key: 'url.path', value: { stringValue: '/api/items' } },
                  { key: 'http.response.status_code', value: { intValue: '200' } },
                ],
                events: [],
                status: { code: 0 },
              },
            ],
          },
        ],
      },
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: 'curl' } },
            { key: 'process.pid', value: { intValue: '7' } },
          ],
        },
        scopeSpans: [{ scope: { name: 'tcpsniff-collector', version: '0.1.0' }, spans: [first.resourceSpans[1].scopeSpans[0].spans[0]] }],
      },
    ],
  });
  assert.equal(first.resourceSpans[1].scopeSpans[0].spans[0].spanId, '1111111111111111');
  assert.equal(JSON.parse(lines[1]!).resourceSpans[0].scopeSpans[0].spans[0].spanId, '3333333333333333');
  assert.deepEqual(exp.stats(), { 'spans.sent': 4, 'bytes.written': fs.statSync(file).size, 'drops.write_failed': 0, 'drops.exporter_queue_full': 0 });
});

test('appends to an existing file and buffers until flush_interval', async () => {
  const file = path.join(tmp(), 'spans.jsonl');
  fs.writeFileSync(file, '{"resourceSpans":[]}\n');
  const exp = new FileExporter(fileExporterFactory.parseConfig({ path: file, flush_interval: '1m' }, 'x'), { id: 'file', logger: memoryLogger() });
  await exp.start();
  exp.consumeSpans([makeSpan()]);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(fs.readFileSync(file, 'utf8').split('\n').length, 2, 'nothing written before the interval');
  await exp.shutdown();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 2);
  assert.equal(lines[0], '{"resourceSpans":[]}');
});

test('a write error is logged once and counted, never thrown', async () => {
  const dir = tmp();
  const file = path.join(dir, 'is-a-directory');
  fs.mkdirSync(file);
  const logger = memoryLogger();
  const exp = new FileExporter(fileExporterFactory.parseConfig({ path: file, flush_interval: 0 }, 'x'), { id: 'file', logger });
  await exp.start();
  for (let i = 0; i < 5; i++) {
    exp.consumeSpans([makeSpan(), makeSpan()]);
    await exp.flush();
  }
  await exp.shutdown();
  const s = exp.stats();
  assert.equal(s['drops.write_failed'], 10);
  assert.equal(s['spans.sent'], 0);
  const warnings = logger.lines.filter((l) => /WARN/.test(l));
  assert.ok(warnings.length >= 1 && warnings.length <= 2, `rate-limited, got ${warnings.length} warnings`);
  assert.match(warnings.join('\n'), /EISDIR/);
});

test('path is required and must not be empty', () => {
  assert.throws(() => fileExporterFactory.parseConfig({}, 'exporters::file'), /^ConfigError: exporters::file::path: is required$/);
  assert.throws(() => fileExporterFactory.parseConfig({ path: ' ' }, 'exporters::file'), /exporters::file::path: must not be empty/);
});
