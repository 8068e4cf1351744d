// traceparent as the http processor reads it (OpenTelemetry's W3C propagator) and tracestate
// (validated whole), with the trace flags and remote parent they give the span.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTraceparent, parseTracestate } from '../../src/processors/http/spans/trace-context';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const P = '00f067aa0ba902b7';

test('traceparent: version 00, flags kept; higher versions read for their first fields; everything else refused', () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${P}-01`), { traceId: T, parentId: P, flags: 1 });
  assert.deepEqual(parseTraceparent(`00-${T}-${P}-00`), { traceId: T, parentId: P, flags: 0 });
  assert.deepEqual(parseTraceparent(`cc-${T}-${P}-09-what-the-future-holds`), { traceId: T, parentId: P, flags: 9 });
  for (const bad of [
    undefined,
    '',
    `00-${T}-${P}-01-extra`, // version 00 has exactly four fields
    `ff-${T}-${P}-01`, // version ff is invalid
    `00-${T.toUpperCase()}-${P}-01`,
    `00-${'0'.repeat(32)}-${P}-01`,
    `00-${T}-${'0'.repeat(16)}-01`,
    `00-${T.slice(1)}-${P}-01`,
    `00-${T}-${P}`,
    `00_${T}_${P}_01`,
  ]) {
    assert.equal(parseTraceparent(bad), null, String(bad));
  }
});

test('tracestate: normalised, or dropped whole when any member is invalid', () => {
  assert.equal(parseTracestate('rojo=00f067aa0ba902b7 , congo=t61rcWkgMzE,,'), 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  assert.equal(parseTracestate('ok=1,BAD=2'), undefined);
  assert.equal(parseTracestate('a=1,a=2'), undefined);
  assert.equal(parseTracestate(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')), undefined);
  assert.equal(parseTracestate(''), undefined);
});
