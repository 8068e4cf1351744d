// The kernel record decoder: field layout (bpf/include/record.h) and hostile batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordDecoder, REC_HEADER_BYTES, REC_VERSION } from '../../src/receivers/record';
import type { CaptureChunk } from '../../src/core/types';

interface Rec {
  kind?: number;
  dir?: number;
  role?: number;
  family?: number;
  pid?: number;
  conn?: number;
  offset?: number;
  lost?: number;
  payload?: Buffer;
  version?: number;
  flags?: number;
}

function record(r: Rec): Buffer {
  const payload = r.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(REC_HEADER_BYTES + payload.length);
  b[0] = r.version ?? REC_VERSION;
  b[1] = r.kind ?? 1;
  b[2] = r.dir ?? 0;
  b[3] = r.role ?? 1;
  b[4] = r.family ?? 2;
  b[5] = 1;
  b.writeUInt16LE(r.flags ?? 0, 6);
  b.writeUInt32LE(r.pid ?? 42, 8);
  b.writeUInt32LE((r.pid ?? 42) + 1, 12);
  b.writeBigUInt64LE(BigInt(r.conn ?? 7), 16);
  b.writeBigUInt64LE(1_000n, 24);
  b.writeBigUInt64LE(BigInt(r.offset ?? 0), 32);
  b.writeUInt32LE(payload.length, 40);
  b.writeUInt32LE(r.lost ?? 0, 44);
  b.writeUInt16LE(40000, 48);
  b.writeUInt16LE(8080, 50);
  Buffer.from([127, 0, 0, 1]).copy(b, 56);
  Buffer.from([127, 0, 0, 2]).copy(b, 72);
  b.write('curl', 88, 'latin1');
  payload.copy(b, REC_HEADER_BYTES);
  return b;
}

/** Frames records as the addon does: [u32 length][u32 0][record][pad to 8]. */
function batch(...recs: Buffer[]): Buffer {
  return Buffer.concat(
    recs.map((r) => {
      const framed = Buffer.alloc(8 + ((r.length + 7) & ~7));
      framed.writeUInt32LE(r.length, 0);
      r.copy(framed, 8);
      return framed;
    }),
  );
}

function decode(d: RecordDecoder, b: Buffer): CaptureChunk[] {
  const out: CaptureChunk[] = [];
  d.decodeBatch(b, out);
  return out;
}

test('fields of a data record, then close with the last user of the connection', () => {
  const d = new RecordDecoder('tcp', 5_000n);
  const [c] = decode(d, batch(record({ payload: Buffer.from('GET /'), offset: 10, lost: 3 })));
  assert.ok(c);
  assert.equal(c.kind, 'data');
  assert.equal(c.direction, 'egress');
  assert.equal(c.offset, 10);
  assert.equal(c.lostAfter, 3);
  assert.equal(c.data.toString(), 'GET /');
  assert.equal(c.timeUnixNano, 6_000n);
  assert.equal(c.pid, 42);
  assert.equal(c.tid, 43);
  assert.equal(c.comm, 'curl');
  assert.equal(c.source, 'tcp/syscalls');
  assert.equal(c.kernelSide, false);
  assert.deepEqual(c.conn, { connId: 'tcp:7', family: 4, localAddr: '127.0.0.1', localPort: 40000, remoteAddr: '127.0.0.2', remotePort: 8080, role: 'client' });
  const [closed] = decode(d, batch(record({ kind: 2, pid: 0 })));
  assert.equal(closed?.kind, 'close');
  assert.equal(closed?.pid, 42, 'close carries the last pid that used the connection');
  assert.equal(closed?.conn, c.conn, 'same connection object');
  assert.equal(d.openConnections, 0);
});

test('IPv6 and IPv4-mapped addresses', () => {
  const d = new RecordDecoder('tcp', 0n);
  const v6 = record({ family: 10, conn: 1 });
  v6.fill(0, 56, 88);
  v6[71] = 1; // ::1
  v6[87] = 1;
  const mapped = record({ family: 10, conn: 2 });
  mapped.fill(0, 56, 88);
  Buffer.from([0xff, 0xff, 10, 0, 0, 1]).copy(mapped, 66);
  Buffer.from([0xff, 0xff, 10, 0, 0, 2]).copy(mapped, 82);
  const [a, b] = decode(d, batch(v6, mapped));
  assert.equal(a?.conn.localAddr, '::1');
  assert.equal(a?.conn.family, 6);
  assert.equal(b?.conn.localAddr, '10.0.0.1');
  assert.equal(b?.conn.remoteAddr, '10.0.0.2');
  assert.equal(b?.conn.family, 4);
});

test('process records carry exe and argv', () => {
  const d = new RecordDecoder('tcp', 0n);
  const payload = Buffer.alloc(64 + 23);
  payload.write('python3.11', 0);
  payload.write('python3\0-m\0http.server\0', 64);
  const [p] = decode(d, batch(record({ kind: 3, offset: 12345, payload })));
  assert.equal(p?.kind, 'process');
  assert.deepEqual(p?.process, { pid: 42, startTimeNs: 12345, exe: 'python3.11', args: ['python3', '-m', 'http.server'] });
});

test('file records: the path from the components sent (only those set), the range read again; a short or lying record is malformed', () => {
  const reads: [string, number, number][] = [];
  const d = new RecordDecoder('tcp', 0n, 65536, (path, offset, length) => (reads.push([path, offset, length]), Buffer.from('hello world'.slice(offset, offset + length))));
  const file = (components: string[], sent: number, opts: { claim?: number; cut?: number } = {}) => {
    const payload = Buffer.alloc(16 + components.length * 128 - (opts.cut ?? 0));
    payload.writeBigUInt64LE(6n, 0); // file offset
    payload.writeUInt32LE(5, 8); // in_fd
    payload.writeUInt32LE(opts.claim ?? components.length, 12);
    components.forEach((c, i) => payload.write(c, 16 + i * 128, 'latin1'));
    return record({ kind: 5, offset: 100, lost: sent, payload });
  };
  const [c] = decode(d, batch(file(['index.html', 'www', 'srv'], 5)));
  assert.deepEqual(reads, [['/srv/www/index.html', 6, 5]]);
  assert.equal(c?.data.toString(), 'world');
  assert.equal(c?.offset, 100);
  assert.equal(c?.lostAfter, 0);
  assert.equal(c?.source, 'tcp/syscalls+file');
  assert.equal(d.stats.fileReread, 5);
  const none = decode(d, batch(file([], 4)));
  assert.equal(none[0]?.lostAfter, 4, 'no path: the range is a gap');
  assert.equal(d.stats.fileUnread, 4);
  assert.deepEqual(decode(d, batch(file(['a', 'b'], 1, { claim: 3 }), file(['a'], 1, { cut: 1 }), file(['a'], 1, { claim: 17 }))), []);
  assert.equal(d.stats.malformed, 3);
});

test('hostile batches: bad version, length beyond the record, truncated frames, random bytes — skipped and counted, never thrown', () => {
  const d = new RecordDecoder('tcp', 0n);
  const badVersion = record({ version: 9, payload: Buffer.from('x') });
  const lying = record({ payload: Buffer.from('abc') });
  lying.writeUInt32LE(1 << 20, 40); // claims 1 MiB of payload
  const good = record({ payload: Buffer.from('ok') });
  const out = decode(d, batch(badVersion, lying, good));
  assert.deepEqual(out.map((c) => c.data.toString()), ['ok']);
  assert.equal(d.stats.malformed, 2);

  const truncated = batch(good).subarray(0, 50);
  assert.deepEqual(decode(d, truncated), []);
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256);
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.from(Array.from({ length: 8 + (i * 37) % 400 }, rnd));
    assert.doesNotThrow(() => decode(d, junk));
  }
  assert.ok(d.stats.malformed > 2);
});

test('unix sockets: family 0, the path from REC_CONN (abstract names as @name)', () => {
  const d = new RecordDecoder('unix', 0n);
  const conn = (id: number, path: Buffer) => record({ kind: 4, family: 1, conn: id, payload: Buffer.concat([Buffer.from([1]), path]) });
  const data = (id: number) => record({ family: 1, conn: id, payload: Buffer.from('GET / HTTP/1.1') });
  const out = decode(d, batch(conn(1, Buffer.from('/run/app.sock\0\0')), data(1), conn(2, Buffer.from('\0containerd-shim')), data(2)));
  assert.equal(out.length, 2, 'REC_CONN yields no chunk');
  assert.equal(out[0]?.conn.family, 0);
  assert.equal(out[0]?.conn.path, '/run/app.sock');
  assert.equal(out[0]?.conn.localAddr, '');
  assert.equal(out[0]?.conn.connId, 'unix:1');
  assert.equal(out[1]?.conn.path, '@containerd-shim');
});

/** A REC_FILE payload: file offset, in_fd, and the path's components from the file upwards. */
function filePayload(fileOffset: number, components: string[]): Buffer {
  const p = Buffer.alloc(16 + 16 * 128);
  p.writeBigUInt64LE(BigInt(fileOffset), 0);
  p.writeUInt32LE(5, 8);
  p.writeUInt32LE(components.length, 12);
  components.forEach((name, i) => p.write(name, 16 + i * 128, 'latin1'));
  return p;
}

test('file records: the range is read again from the walked path; the chunk says which file and offset, the unread rest is lostAfter', () => {
  const reads: Array<[string, number, number]> = [];
  const reader = (path: string, offset: number, length: number) => {
    reads.push([path, offset, length]);
    return path.endsWith('gone.bin') ? null : Buffer.from('x'.repeat(length - 3));
  };
  const d = new RecordDecoder('tcp', 0n, 16, reader);
  const [c, gone] = decode(
    d,
    batch(
      record({ kind: 5, offset: 100, lost: 10, payload: filePayload(1 << 20, ['big.bin', 'www', 'srv']) }),
      record({ kind: 5, offset: 110, lost: 4, payload: filePayload(0, ['gone.bin', 'tmp']) }),
    ),
  );
  assert.deepEqual(reads, [
    ['/srv/www/big.bin', 1 << 20, 10],
    ['/tmp/gone.bin', 0, 4],
  ]);
  assert.equal(c?.source, 'tcp/syscalls+file');
  assert.deepEqual(c?.file, { path: '/srv/www/big.bin', offset: 1 << 20 });
  assert.equal(c?.offset, 100);
  assert.equal(c?.data.length, 7);
  assert.equal(c?.lostAfter, 3);
  assert.deepEqual(gone?.file, { path: '/tmp/gone.bin', offset: 0 });
  assert.equal(gone?.data.length, 0);
  assert.equal(gone?.lostAfter, 4);
  assert.equal(d.stats.fileReread, 7);
  assert.equal(d.stats.fileUnread, 7);
});

test('a lost-bytes record flagged kernel-side (splice) says so', () => {
  const d = new RecordDecoder('tcp', 0n);
  const rec = record({ offset: 5, lost: 4096 });
  rec.writeUInt16LE(1, 6); // REC_FLAG_KERNEL_SIDE
  const [c] = decode(d, batch(rec));
  assert.equal(c?.kernelSide, true);
  assert.equal(c?.lostAfter, 4096);
});

test('TLS plaintext records: same connection, marked tls, own source; raw bytes before them end in a close, raw bytes after them are dropped and counted', () => {
  const d = new RecordDecoder('tcp', 0n);
  const TLS = 2;
  const out = decode(
    d,
    batch(
      record({ payload: Buffer.from([0x16, 0x03, 0x01]) }), // a session that began before the collector
      record({ flags: TLS, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') }),
      record({ payload: Buffer.from([0x17, 0x03, 0x03]), offset: 3 }), // ciphertext in flight
      record({ flags: TLS, dir: 1, payload: Buffer.from('HTTP/1.1 200 OK\r\n\r\n') }),
    ),
  );
  assert.deepEqual(out.map((c) => [c.kind, c.direction, c.conn.tls === true, c.source]), [
    ['data', 'egress', false, 'tcp/syscalls'],
    ['close', 'egress', false, 'tcp'],
    ['data', 'egress', true, 'tcp/syscalls+tls'],
    ['data', 'ingress', true, 'tcp/syscalls+tls'],
  ]);
  assert.equal(out[2]!.conn.connId, out[0]!.conn.connId);
  assert.equal(out[2]!.conn, out[3]!.conn, 'one meta object per connection');
  assert.equal(out[2]!.conn.remotePort, 8080);
  assert.equal(d.stats.tlsCiphertextDropped, 1);
  assert.equal(d.stats.tlsBytes, 37);
  // A connection whose first record is plaintext needs no close.
  const fresh = decode(d, batch(record({ conn: 9, flags: TLS, payload: Buffer.from('x') })));
  assert.deepEqual(fresh.map((c) => [c.kind, c.conn.tls]), [['data', true]]);
});
