// Shared by the HTTP/2 integration tests: drop checks, span ordering, and the expected spans of
// the grpc-client.js fixture's five calls (whatever the transport).
import assert from 'node:assert/strict';
import { CLIENT, SERVER, spansOf, type CollectorRun, type FlatSpan } from './harness';

export function assertNoDrops(r: CollectorRun) {
  assert.ok(Object.keys(r.drops).length > 0, `the exit summary reports drops by reason:\n${r.stderr}`);
  for (const [reason, n] of Object.entries(r.drops)) assert.equal(n, 0, `drops.${reason}\n${r.stderr}`);
  assert.equal(r.exitCode, 0, r.stderr);
}

export const dump = (spans: FlatSpan[]) => JSON.stringify(spans, (_k, v) => (typeof v === 'bigint' ? String(v) : v), 1);
export const byStream = (a: FlatSpan, b: FlatSpan) => Number(a.attributes['tcpsniff.h2.stream_id']) - Number(b.attributes['tcpsniff.h2.stream_id']);

/** What grpc-client.js prints and the spans its five calls must give (one SERVER, one CLIENT each). */
export function assertGrpcEchoCalls(
  r: CollectorRun,
  out: Record<string, { code: number; value?: unknown }>,
  serverPid: number | undefined,
  transportChecks: (s: FlatSpan, where: string) => void,
): void {
  assertNoDrops(r);
  assert.deepEqual(out, {
    unary: { code: 0, value: 'hello' },
    collect: { code: 0, value: '3' },
    expand: { code: 0, value: 4 },
    chat: { code: 0, value: 2 },
    missing: { code: 5 },
  });
  const servers = spansOf(r.spans, SERVER).sort(byStream);
  const clients = spansOf(r.spans, CLIENT).sort(byStream);
  assert.equal(servers.length, 5, dump(r.spans));
  assert.equal(clients.length, 5, dump(r.spans));
  assert.ok(servers.every((s) => s.resource['process.pid'] === serverPid));
  assert.ok(clients.every((s) => s.resource['process.pid'] !== serverPid));
  const names = ['Unary', 'Collect', 'Expand', 'Chat', 'Missing'];
  const reqCounts = [1, 3, 1, 2, 1];
  const resCounts = [1, 1, 4, 2, 0];
  const reqBytes = [5, 6, 1, 6, 1];
  const resBytes = [5, 1, 4 * 'item-0'.length, 6, 0];
  for (const [kind, spans] of [
    ['server', servers],
    ['client', clients],
  ] as const) {
    assert.deepEqual(
      spans.map((s) => s.name),
      names.map((n) => `tcpsniff.test.Echo/${n}`),
      kind,
    );
    spans.forEach((s, i) => {
      const where = `${kind} ${s.name}`;
      assert.equal(s.attributes['rpc.system.name'], 'grpc', where);
      assert.equal(s.attributes['rpc.system'], 'grpc', where);
      assert.equal(s.attributes['rpc.service'], 'tcpsniff.test.Echo', where);
      assert.equal(s.attributes['rpc.method'], `tcpsniff.test.Echo/${names[i]}`, where);
      const code = names[i] === 'Missing' ? 5 : 0;
      assert.equal(s.attributes['rpc.grpc.status_code'], code, where);
      assert.equal(s.attributes['rpc.status_code'], code === 5 ? 'NOT_FOUND' : 'OK', where);
      assert.equal(s.attributes['rpc.grpc.request.message_count'], reqCounts[i], where);
      assert.equal(s.attributes['rpc.grpc.response.message_count'], resCounts[i], where);
      assert.equal(s.attributes['rpc.grpc.request.message_bytes'], reqBytes[i], where);
      assert.equal(s.attributes['rpc.grpc.response.message_bytes'], resBytes[i], where);
      assert.equal(s.attributes['network.protocol.version'], '2', where);
      transportChecks(s, where);
      assert.equal(s.attributes['tcpsniff.incomplete'], undefined, where);
      assert.equal(s.attributes['tcpsniff.h2.unknown_headers'], undefined, where);
      assert.equal(s.attributes['http.request.method'], undefined, where);
    });
  }
  assert.equal(clients[4]!.status.code, 2);
  assert.equal(clients[4]!.attributes['error.type'], 'NOT_FOUND');
  assert.equal(servers[4]!.status.code ?? 0, 0);
  assert.equal(servers[4]!.attributes['error.type'], undefined);
  for (const s of [...servers.slice(0, 4), ...clients.slice(0, 4)]) assert.equal(s.status.code ?? 0, 0, s.name);
  // NOT_FOUND is an error for the CLIENT span, not for the SERVER span (OpenTelemetry gRPC conventions).
}
