// The benchmark harness's parsers (bench/lib/parse.ts) on captured tool output: a smoke test,
// not a benchmark (benchmarks run with `npm run bench`, never in npm test).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bpfProgFdinfo,
  missingMarkers,
  newMarkerScan,
  parseCollectorSummary,
  parseGhz,
  parseH2load,
  parseH2loadLog,
  parseTcpdumpStats,
  parseWrk,
  percentile,
  procStatTicks,
  scanMarkers,
  smapsRollupPssKiB,
  spread,
  topSelfTime,
} from '../../bench/lib/parse';

const WRK = `Running 5s test @ http://127.0.0.1:18080/1k
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   595.12us  201.44us   8.90ms   91.00%
    Req/Sec    53.40k     2.10k   56.12k    80.00%
  Latency Distribution
     50%  560.00us
     75%  640.00us
     90%  750.00us
     99%    1.50ms
  265712 requests in 5.01s, 334.51MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  53036.33
Transfer/sec:     66.77MB
MARK 1 265744
`;

test('bench: wrk output with latency distribution and markers', () => {
  const r = parseWrk(WRK);
  assert.equal(r.requests, 265712);
  assert.equal(r.durationS, 5.01);
  assert.equal(r.rps, 53036.33);
  assert.deepEqual(r.latencyUs, { p50: 560, p75: 640, p90: 750, p99: 1500 });
  assert.deepEqual(r.errors, { connect: 0, read: 2, write: 0, timeout: 1, non2xx: 0 });
  assert.deepEqual([...r.issued], [[1, 265744]]);
});

test('bench: h2load summary and log file', () => {
  const out = `finished in 5.00s, 19990.80 req/s, 24.34MB/s
requests: 100000 total, 100000 started, 99998 done, 99990 succeeded, 10 failed, 2 errored, 0 timeout
`;
  const r = parseH2load(out);
  assert.equal(r.rps, 19990.8);
  assert.equal(r.durationS, 5);
  assert.deepEqual([r.total, r.started, r.done, r.succeeded, r.failed, r.errored, r.timeout], [100000, 100000, 99998, 99990, 10, 2, 0]);
  assert.deepEqual(parseH2loadLog('1795334497451954\t200\t141\n1795334497452954\t200\t590\n\n'), [141, 590]);
});

test('bench: ghz JSON report (latencies in ns, cancelled calls apart from OK ones)', () => {
  const out =
    '{"count":25791,"total":3011719740,"rps":8563.5,"errorDistribution":{"rpc error: code = Unavailable desc = transport is closing":16},' +
    '"statusCodeDistribution":{"OK":25775,"Unavailable":16},"latencyDistribution":[{"percentage":50,"latency":1337592},{"percentage":99,"latency":9136726}]}';
  const r = parseGhz(out);
  assert.equal(r.ok, 25775);
  assert.equal(r.count, 25791);
  assert.equal(r.rps, 8563.5);
  assert.deepEqual(r.latencyUs, { p50: 1337.592, p99: 9136.726 });
  assert.ok(Number.isNaN(parseGhz('ghz: connection refused').ok));
});

test('bench: collector exit summary', () => {
  const err = `2026-11-22T08:01:43.456Z INFO  summary: records=55609 bytes=8224498 exchanges=14616 spans_exported=14616 drops_total=3
2026-11-22T08:01:43.456Z INFO  summary: drops by reason: after_shutdown=0 exporter_queue_full=3 gap=0`;
  assert.deepEqual(parseCollectorSummary(err), {
    records: 55609,
    bytes: 8224498,
    exchanges: 14616,
    spansExported: 14616,
    dropsTotal: 3,
    drops: { after_shutdown: 0, exporter_queue_full: 3, gap: 0 },
  });
  assert.equal(parseCollectorSummary('no summary here'), null);
});

test('bench: /proc and fdinfo parsing', () => {
  const stat = '1234 (node (worker) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 100 0 0';
  assert.equal(procStatTicks(stat), 325);
  const fdinfo =
    'pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t1057\nprog_type:\t5\nprog_jited:\t1\nprog_tag:\tabcdef0123456789\nmemlock:\t4096\nprog_id:\t7306\nrun_time_ns:\t375000\nrun_cnt:\t1000\n';
  assert.deepEqual(bpfProgFdinfo(fdinfo), { tag: 'abcdef0123456789', id: 7306, runTimeNs: 375000, runCnt: 1000 });
  assert.equal(bpfProgFdinfo('pos:\t0\nflags:\t02\n'), null);
  const linkFdinfo = 'pos:\t0\nflags:\t02000000\nlink_type:\tperf\nlink_id:\t379\nprog_tag:\tabcdef0123456789\nprog_id:\t7306\ntp_name:\tsys_exit_read\n';
  assert.equal(bpfProgFdinfo(linkFdinfo), null);
  assert.deepEqual(parseTcpdumpStats('329128 packets captured\n329130 packets received by filter\n0 packets dropped by kernel\n'), {
    captured: 329128,
    received: 329130,
    dropped: 0,
  });
});

test('bench: markers in OTLP/JSON lines, by span kind', () => {
  const span = (kind: number, m: string) =>
    `{"traceId":"a","spanId":"b","name":"GET","kind":${kind},"attributes":[{"key":"url.query","value":{"stringValue":"m=${m}"}}]}`;
  const line = `{"resourceSpans":[{"scopeSpans":[{"spans":[${[span(2, '1-1'), span(3, '1-1'), span(2, '1-2'), span(2, '1-2'), span(2, '1-4')].join(',')}]}]}]}`;
  const scan = newMarkerScan();
  scanMarkers(line, scan);
  assert.equal(scan.spans, 5);
  assert.deepEqual(scan.byKind, { 2: 4, 3: 1 });
  assert.equal(scan.duplicates, 1);
  assert.deepEqual(missingMarkers(scan, 2, new Map([[1, 4]])), { issued: 4, found: 3, missing: 1 });
  assert.deepEqual(missingMarkers(scan, 3, new Map([[1, 4]])), { issued: 4, found: 1, missing: 3 });
});

test('bench: statistics and profile summary', () => {
  assert.deepEqual(spread([3, 1, 2]), { min: 1, median: 2, max: 3, n: 3 });
  assert.deepEqual(spread([4, 1, 2, 3]), { min: 1, median: 2.5, max: 4, n: 4 });
  assert.equal(percentile([5, 1, 4, 2, 3], 50), 3);
  assert.equal(
    percentile(
      Array.from({ length: 100 }, (_, i) => i + 1),
      99,
    ),
    99,
  );
  const prof = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 } },
      { id: 2, callFrame: { functionName: 'push', url: 'file:///r/dist/src/x.js', lineNumber: 9 } },
      { id: 3, callFrame: { functionName: 'emit', url: 'file:///r/dist/src/y.js', lineNumber: 0 } },
    ],
    samples: [2, 2, 3, 2],
    timeDeltas: [0, 100, 100, 100],
  };
  const top = topSelfTime(prof, '/r/');
  assert.equal(top[0]!.name, 'push');
  assert.equal(top[0]!.where, 'dist/src/x.js:10');
  assert.equal(top[1]!.name, 'emit');
});

test('smaps_rollup: the PSS line', () => {
  const rollup = `55d0c4a00000-7ffd1b1f6000 ---p 00000000 00:00 0                          [rollup]
Rss:              212340 kB
Pss:              146512 kB
Pss_Dirty:        140100 kB
Pss_Anon:         139000 kB
Shared_Clean:       8000 kB
`;
  assert.equal(smapsRollupPssKiB(rollup), 146512);
  assert.ok(Number.isNaN(smapsRollupPssKiB('Rss: 1 kB\n')));
});
