// HTTP/2 frame parser: identical results whole, byte by byte and split at random points; gaps
// inside payloads bridged, elsewhere resynchronised; hostile frames bounded; the plausibility
// check behind mid-stream detection rejects HTTP/1 and junk. Plus gRPC message framing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameParser, MAX_FRAME_SIZE_LIMIT, PREFACE, plausibleFrames, type FrameHeader, type FrameSink } from '../../src/processors/http/h2/frames';
import { GrpcFramer, isGrpcContentType, parseGrpcPath } from '../../src/processors/http/h2/grpc';
import { prng } from './http-fixtures';
import { HpackEncoder, frame, grpcMessage, settings } from './helpers/h2';

class Log implements FrameSink {
  out: string[] = [];
  private data = '';
  private flushData(): void {
    if (this.data !== '') this.out.push(`data ${this.data}`);
    this.data = '';
  }
  onFrame(h: FrameHeader, payload: Buffer | null): void {
    this.flushData();
    this.out.push(`frame t${h.type} f${h.flags} s${h.streamId} ${payload === null ? 'null' : payload.toString('hex')}`);
  }
  onData(_h: FrameHeader, d: Buffer, from: number, to: number): void {
    this.data += d.toString('latin1', from, to);
  }
  onDataEnd(h: FrameHeader): void {
    this.flushData();
    this.out.push(`dataend s${h.streamId} f${h.flags}`);
  }
  onPayloadLost(h: FrameHeader, bytes: number): void {
    this.flushData();
    this.out.push(`lost t${h.type} s${h.streamId} ${bytes}`);
  }
  onSyncLost(reason: string): void {
    this.flushData();
    this.out.push(`synclost ${reason}`);
  }
  onResync(): void {
    this.out.push('resync');
  }
  onSkipped(): void {}
}

function sample(): Buffer {
  const enc = new HpackEncoder();
  const block = enc.encode([
    [':method', 'POST'],
    [':path', '/upload'],
    [':scheme', 'http'],
    [':authority', 'example.com'],
  ]);
  const padded = (b: Buffer, pad: number, prio: boolean) =>
    Buffer.concat([Buffer.from([pad]), prio ? Buffer.from([0x80, 0, 0, 3, 15]) : Buffer.alloc(0), b, Buffer.alloc(pad)]);
  return Buffer.concat([
    PREFACE,
    settings([
      [1, 8192],
      [4, 65535],
    ]),
    frame(8, 0, 0, Buffer.from([0, 0, 0x10, 0])),
    frame(1, 0x08 | 0x20, 1, padded(block.subarray(0, 5), 3, true)), // HEADERS padded + priority, no END_HEADERS
    frame(9, 0, 1, block.subarray(5, 8)),
    frame(9, 4, 1, block.subarray(8)),
    frame(0, 0x08, 1, Buffer.concat([Buffer.from([4]), Buffer.from('hello '), Buffer.alloc(4)])), // padded DATA
    frame(0, 0, 1, Buffer.from('x'.repeat(300))),
    frame(0, 1, 1, Buffer.from('world')),
    frame(6, 0, 0, Buffer.from('pingpong')),
    frame(2, 0, 3, Buffer.from([0, 0, 0, 1, 7])),
    frame(3, 0, 3, Buffer.from([0, 0, 0, 8])),
    frame(0, 1, 5, Buffer.alloc(0)),
    settings([], true),
    frame(7, 0, 0, Buffer.from([0, 0, 0, 5, 0, 0, 0, 0, 0x62, 0x79, 0x65])),
  ]);
}

function parse(chunks: Buffer[]): string[] {
  const log = new Log();
  const p = new FrameParser(log, { maxPayloadBytes: 65536, expectPreface: true });
  chunks.forEach((c, i) => p.push(c, BigInt(i)));
  return log.out;
}

test('frame parser: whole, byte by byte and random splits give identical results', () => {
  const all = sample();
  const whole = parse([all]);
  assert.equal(whole.filter((l) => l.startsWith('frame')).length, 10, whole.join('\n'));
  const body = whole.filter((l) => l.startsWith('data ')).map((l) => l.slice(5));
  assert.deepEqual(body, ['hello ', 'x'.repeat(300), 'world'], 'padding removed');
  assert.ok(whole.includes('dataend s1 f1'));
  assert.ok(whole.includes('dataend s5 f1'));
  assert.ok(!whole.some((l) => l.startsWith('synclost')));
  const bytes: Buffer[] = [];
  for (let i = 0; i < all.length; i++) bytes.push(all.subarray(i, i + 1));
  assert.deepEqual(parse(bytes), whole);
  const rnd = prng(42);
  for (let round = 0; round < 200; round++) {
    const parts: Buffer[] = [];
    let p = 0;
    while (p < all.length) {
      const n = 1 + Math.floor(rnd() * (rnd() < 0.5 ? 12 : 400));
      parts.push(all.subarray(p, p + n));
      p += n;
    }
    assert.deepEqual(parse(parts), whole, `round ${round}`);
  }
});

test('frame parser: a gap inside a DATA payload is bridged, a gap at a frame header loses sync until a plausible chunk', () => {
  const log = new Log();
  const p = new FrameParser(log, { maxPayloadBytes: 65536 });
  const data = frame(0, 1, 1, Buffer.from('0123456789'));
  p.push(data.subarray(0, 12), 0n); // header + "012"
  p.gap(4, 1n, 'gap'); // "3456" lost
  p.push(data.subarray(16), 2n); // "789"
  assert.deepEqual(log.out, ['data 012', 'lost t0 s1 4', 'data 789', 'dataend s1 f1']);
  log.out = [];
  p.gap(5, 3n, 'gap'); // at a frame boundary: sync lost
  assert.deepEqual(log.out, ['synclost gap']);
  p.push(Buffer.from('zzzzzzzzzzzzzzzzzzzzzz'), 4n); // junk: skipped
  p.push(Buffer.concat([frame(8, 0, 0, Buffer.from([0, 0, 1, 0])), frame(6, 0, 0, Buffer.alloc(8))]), 5n);
  assert.deepEqual(log.out, ['synclost gap', 'resync', 'frame t8 f0 s0 00000100', 'frame t6 f0 s0 0000000000000000']);
  assert.equal(p.resyncBytes, 22);
  // A gap running past the end of a DATA frame: its END_STREAM is still reported, then sync is lost.
  log.out = [];
  const d2 = frame(0, 1, 7, Buffer.from('abcdef'));
  p.push(d2.subarray(0, 11), 6n);
  p.gap(100, 7n, 'truncated');
  assert.deepEqual(log.out, ['data ab', 'lost t0 s7 4', 'dataend s7 f1', 'synclost truncated']);
});

test('frame parser: hostile frames stay bounded (huge lengths, oversized payloads, bad padding)', () => {
  const log = new Log();
  const p = new FrameParser(log, { maxPayloadBytes: 1024 });
  // A length over the max frame size loses sync at once (nothing is allocated for it).
  p.push(Buffer.from([0xff, 0xff, 0xff, 1, 4, 0, 0, 0, 1]), 0n);
  assert.deepEqual(log.out, ['synclost malformed']);
  assert.equal(p.bufferedBytes(), 0);
  // A HEADERS payload over the accumulation cap is skipped and reported with a null payload.
  const log2 = new Log();
  const p2 = new FrameParser(log2, { maxPayloadBytes: 1024 });
  const big = frame(1, 4, 1, Buffer.alloc(5000, 0x82));
  for (let i = 0; i < big.length; i += 100) p2.push(big.subarray(i, i + 100), 0n);
  assert.ok(p2.bufferedBytes() <= 1024);
  assert.deepEqual(log2.out, ['frame t1 f4 s1 null']);
  // DATA with padding longer than the payload: skipped, parsing continues with the next frame.
  const log3 = new Log();
  const p3 = new FrameParser(log3, { maxPayloadBytes: 1024 });
  p3.push(Buffer.concat([frame(0, 0x08, 1, Buffer.from([9, 1, 2])), frame(6, 0, 0, Buffer.alloc(8))]), 0n);
  assert.deepEqual(log3.out, ['frame t6 f0 s0 0000000000000000']);
  assert.equal(p3.invalid, 1);
  // Random junk never throws and never holds more than a frame header plus the cap.
  const rnd = prng(9);
  const p4 = new FrameParser(new Log(), { maxPayloadBytes: 1024 });
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(1 + Math.floor(rnd() * 200));
    for (let j = 0; j < b.length; j++) b[j] = rnd() < 0.5 ? 0 : Math.floor(rnd() * 256);
    p4.push(b, 0n);
    if (rnd() < 0.05) p4.gap(Math.floor(rnd() * 50), 0n, 'gap');
    assert.ok(p4.bufferedBytes() <= 1024 + 9);
  }
});

test('plausibility: real frame sequences pass; HTTP/1 and random junk do not', () => {
  const s = sample().subarray(PREFACE.length);
  assert.equal(plausibleFrames(s, 0, 16384, 'detect'), 'yes');
  assert.equal(plausibleFrames(settings([[3, 100]]), 0, 16384, 'detect'), 'more', 'a single frame asks for more');
  assert.equal(plausibleFrames(settings([[3, 100]]), 0, 16384, 'resync'), 'yes');
  for (const text of [
    'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
    'POST /api HTTP/1.1\r\n',
    '\u0000\u0000\u0004\u0004\u0000\u0000\u0000\u0000\u0001abcd', // SETTINGS with a stream id
    '\u0000\u0000\u0005\u0003\u0000\u0000\u0000\u0000\u0001abcde', // RST_STREAM of 5 bytes
    '\u0000\u0000\u0000\u0009\u0004\u0000\u0000\u0000\u0001', // CONTINUATION without HEADERS
  ]) {
    assert.equal(plausibleFrames(Buffer.from(text, 'latin1'), 0, 16384, 'detect'), 'no', JSON.stringify(text));
  }
  const rnd = prng(11);
  let yes = 0;
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.alloc(9 + Math.floor(rnd() * 120));
    for (let j = 0; j < b.length; j++) b[j] = rnd() < 0.3 ? 0 : Math.floor(rnd() * 256);
    if (plausibleFrames(b, 0, 16384, 'detect') === 'yes') yes++;
    // Any legal frame length (attached mid-connection, SETTINGS not seen): still no junk passes.
    if (plausibleFrames(b, 0, MAX_FRAME_SIZE_LIMIT, 'detect') === 'yes') yes++;
  }
  assert.equal(yes, 0);
});

test('frame sizes: over 16 KiB only once SETTINGS allowed it, or (attached mid-connection) when the frame is well formed', () => {
  const big = frame(0, 1, 3, Buffer.alloc(100_000, 0x61)); // DATA END_STREAM, stream 3
  const run = (opts: { frameSizeUnknown?: boolean; startInScan?: boolean; allow?: number }, ...chunks: Buffer[]) => {
    const log = new Log();
    const p = new FrameParser(log, { maxPayloadBytes: 65536, ...opts });
    if (opts.allow !== undefined) p.allowFrameSize(opts.allow);
    chunks.forEach((c, i) => p.push(c, BigInt(i)));
    return log.out.map((l) => (l.startsWith('data ') ? `data ${l.length - 5}` : l));
  };
  // The handshake was seen: the receiver's SETTINGS decide (16 KiB by default).
  assert.deepEqual(run({}, big), ['synclost malformed']);
  assert.deepEqual(run({ allow: 1 << 20 }, big), ['data 100000', 'dataend s3 f1']);
  assert.deepEqual(run({ allow: 50_000 }, big), ['synclost malformed']);
  // Attached mid-connection: any legal length, when the header is otherwise well formed.
  assert.deepEqual(run({ frameSizeUnknown: true }, big.subarray(0, 30_000), big.subarray(30_000)), ['data 100000', 'dataend s3 f1']);
  for (const bad of [
    frame(0, 0x02, 3, Buffer.alloc(20_000)), // an undefined DATA flag
    frame(0, 0, 0, Buffer.alloc(20_000)), // DATA on stream 0
    frame(10, 0, 3, Buffer.alloc(20_000)), // an unknown type
    frame(4, 0, 0, Buffer.alloc(20_005)), // SETTINGS not a multiple of 6
  ]) {
    assert.deepEqual(run({ frameSizeUnknown: true }, bad), ['synclost malformed'], bad.subarray(0, 9).toString('hex'));
  }
  // Resynchronisation after lost sync takes large frames at a chunk start alike.
  const headers = frame(1, 4, 5, Buffer.from([0x83, 0x86, 0x84])); // POST, http, /
  assert.deepEqual(run({ frameSizeUnknown: true, startInScan: true }, Buffer.concat([headers, big])), [
    'resync',
    'frame t1 f4 s5 838684',
    'data 100000',
    'dataend s3 f1',
  ]);
  assert.equal(plausibleFrames(Buffer.concat([headers, big]), 0, 16_384, 'resync'), 'no');
});

test('gRPC framing: messages counted and sized whole, byte by byte and across gaps; compressed flag; content types; paths', () => {
  const stream = Buffer.concat([grpcMessage(Buffer.from('hello')), grpcMessage(Buffer.alloc(0)), grpcMessage(Buffer.alloc(70000, 1), true)]);
  const whole = new GrpcFramer();
  whole.push(stream, 0, stream.length, 1n);
  const bytewise = new GrpcFramer();
  for (let i = 0; i < stream.length; i++) bytewise.push(stream, i, i + 1, BigInt(i));
  for (const f of [whole, bytewise]) {
    assert.equal(f.messages, 3);
    assert.equal(f.bytes, 70005);
    assert.equal(f.compressed, 1);
    assert.equal(f.lost, false);
    assert.deepEqual(
      f.events.map((e) => [e.size, e.compressed]),
      [
        [5, false],
        [0, false],
        [70000, true],
      ],
    );
  }
  const gap = new GrpcFramer();
  gap.push(stream, 0, 20, 0n); // into the big message's payload
  gap.skip(1000);
  gap.push(stream, 1020, stream.length, 1n);
  assert.equal(gap.messages, 3);
  assert.equal(gap.lost, false);
  const lost = new GrpcFramer();
  lost.push(stream, 0, 3, 0n);
  lost.skip(10); // the prefix itself was lost
  assert.equal(lost.lost, true);
  const cap = new GrpcFramer();
  const many = Buffer.concat(Array.from({ length: 100 }, () => grpcMessage(Buffer.from('m'))));
  cap.push(many, 0, many.length, 0n);
  assert.equal(cap.messages, 100);
  assert.equal(cap.events.length, 32);
  assert.ok(isGrpcContentType('application/grpc'));
  assert.ok(isGrpcContentType('application/grpc+proto'));
  assert.ok(isGrpcContentType('application/grpc+json'));
  assert.ok(isGrpcContentType('application/grpc; charset=utf-8'));
  assert.ok(!isGrpcContentType('application/grpc-web'));
  assert.ok(!isGrpcContentType('application/json'));
  assert.deepEqual(parseGrpcPath('/pkg.Svc/Do'), { service: 'pkg.Svc', method: 'Do' });
  assert.equal(parseGrpcPath('/a/b/c'), null);
  assert.equal(parseGrpcPath('/nomethod'), null);
});
