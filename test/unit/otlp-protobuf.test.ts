// The protobuf encoder writes exactly the bytes of its previous (BigInt, Buffer-per-field) form:
// the golden below was made by that form for spans that cover every value kind, optional
// fields, events, status and two resources. (The Collector integration test decodes it too.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeTraceRequest } from '../../src/exporters/otlp/protobuf';
import { SpanKind, StatusCode, type Resource, type SpanRecord } from '../../src/core/types';

const RA: Resource = { attributes: { 'service.name': 'checkout', 'process.pid': 4242, 'host.name': 'node-1' } };
const RB: Resource = { attributes: { 'service.name': 'curl', 'process.pid': 7 } };
const base: SpanRecord = {
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  name: 'GET /api/items',
  kind: SpanKind.CLIENT,
  startTimeUnixNano: 1_700_000_000_123_456_789n,
  endTimeUnixNano: 1_700_000_000_135_456_789n,
  attributes: {},
  events: [],
  status: { code: StatusCode.UNSET },
  resource: RA,
};
const SPANS: SpanRecord[] = [
  { ...base, attributes: { 'http.request.method': 'GET', 'url.path': '/api/items', 'http.response.status_code': 200, 'server.port': 8080, 'x.long': 'é✓😀'.repeat(50) } },
  {
    ...base,
    spanId: 'b7ad6b7169203331',
    parentSpanId: '00f067aa0ba902b7',
    traceState: 'a=b',
    kind: SpanKind.SERVER,
    attributes: { neg: -5, zero: 0, big: 2 ** 53 - 1, huge: 1e21, d: 0.25, nan: NaN, t: true, f: false, empty: '', list: ['a', 'b'], nums: [1, 2.5] },
    events: [{ name: 'gap', timeUnixNano: 1_700_000_000_500_000_000n, attributes: { 'tcpsniff.gap.bytes': 1200 } }],
    status: { code: StatusCode.ERROR, message: 'HTTP 503' },
    resource: RB,
  },
  { ...base, spanId: '1111111111111111', startTimeUnixNano: 0n, endTimeUnixNano: 1n },
];

const GOLDEN =
  '0aaa060a470a1a0a0c736572766963652e6e616d65120a0a08636865636b6f75740a120a0b70726f636573732e706964' +
  '12031892210a150a09686f73742e6e616d6512080a066e6f64652d3112de050a1b0a12746370736e6966662d636f6c6c' +
  '6563746f721205302e312e301283050a104bf92f3577b34da6a3ce929d0e0e4736120800f067aa0ba902b72a0e474554' +
  '202f6170692f6974656d7330033915cd853dfe9c97174115e83c3efe9c97174a1c0a13687474702e726571756573742e' +
  '6d6574686f6412050a034745544a180a0875726c2e70617468120c0a0a2f6170692f6974656d734a200a19687474702e' +
  '726573706f6e73652e7374617475735f636f6465120318c8014a120a0b7365727665722e706f7274120318903f4ad003' +
  '0a06782e6c6f6e6712c5030ac203c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f' +
  '9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3' +
  'a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c' +
  '93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f' +
  '9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3' +
  'a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c' +
  '93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f' +
  '9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3' +
  'a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c' +
  '93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f9880c3a9e29c93f09f98807a0012390a104bf92f3577b34da6a3ce' +
  '929d0e0e4736120811111111111111112a0e474554202f6170692f6974656d7330034101000000000000007a000a8f03' +
  '0a2b0a160a0c736572766963652e6e616d6512060a046375726c0a110a0b70726f636573732e7069641202180712df02' +
  '0a1b0a12746370736e6966662d636f6c6c6563746f721205302e312e3012bf020a104bf92f3577b34da6a3ce929d0e0e' +
  '47361208b7ad6b71692033311a03613d62220800f067aa0ba902b72a0e474554202f6170692f6974656d7330023915cd' +
  '853dfe9c97174115e83c3efe9c97174a120a036e6567120b18fbffffffffffffffff014a0a0a047a65726f120218004a' +
  '100a03626967120918ffffffffffffff0f4a110a046875676512092150efe2d6e41a4b444a0e0a016412092100000000' +
  '0000d03f4a100a036e616e120921000000000000f87f4a070a0174120210014a070a0166120210004a0b0a05656d7074' +
  '7912020a004a140a046c697374120c2a0a0a030a01610a030a01624a190a046e756d7312112a0f0a0218010a09210000' +
  '0000000004405a29090065f753fe9c971712036761701a190a12746370736e6966662e6761702e6279746573120318b0' +
  '097a0c120848545450203530331802';

test('ExportTraceServiceRequest bytes: every value kind, optional fields, events, status, resources', () => {
  assert.equal(encodeTraceRequest(SPANS).toString('hex'), GOLDEN);
  assert.equal(encodeTraceRequest([]).length, 0);
});
