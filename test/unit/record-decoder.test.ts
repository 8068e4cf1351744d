// The kernel record decoder: field layout (bpf/include/record.h, offsets checked against its BTF in
// record-layout.test.ts) and hostile batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordDecoder, REC_HDR as H, REC_HEADER_BYTES, REC_VERSION } from '../../src/receivers/record';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileSendJoiner, OpenFileReader, type RangeReader } from '../../src/receivers/sendfile/file-sends';

/** A RangeReader from a function of (path, offset, length). */
const reading = (fn: (path: string, offset: number, length: number) => Buffer | null): RangeReader => ({
  read: (_sendfile, p, o, l) => fn(p, o, l),
  release() {},
});
import type { CaptureChunk, FileOrigin } from '../../src/core/types';

/** A chunk's file origin without its reader (for deepEqual). */
const originOf = (c: CaptureChunk | undefined): FileOrigin | undefined => (c?.file === undefined ? undefined : { path: c.file.path, offset: c.file.offset });

/** Reads a file range handed on unread (what the http processor does when it needs the bytes): `length` bytes from `skip` on. */
const readRange = (c: CaptureChunk | undefined, skip = 0, length = c!.lostAfter - skip): string =>
  c!.file!.reader!.read(c!.file!.offset + skip, length).toString();

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
  b[H.version] = r.version ?? REC_VERSION;
  b[H.kind] = r.kind ?? 1;
  b[H.direction] = r.dir ?? 0;
  b[H.role] = r.role ?? 1;
  b[H.family] = r.family ?? 2;
  b[H.backend] = 1;
  b.writeUInt16LE(r.flags ?? 0, H.flags);
  b.writeUInt32LE(r.pid ?? 42, H.pid);
  b.writeUInt32LE((r.pid ?? 42) + 1, H.tid);
  b.writeBigUInt64LE(BigInt(r.conn ?? 7), H.conn_id);
  b.writeBigUInt64LE(1_000n, H.ts_ns);
  b.writeBigUInt64LE(BigInt(r.offset ?? 0), H.offset);
  b.writeUInt32LE(payload.length, H.len);
  b.writeUInt32LE(r.lost ?? 0, H.lost_after);
  b.writeUInt16LE(40000, H.lport);
  b.writeUInt16LE(8080, H.rport);
  Buffer.from([127, 0, 0, 1]).copy(b, H.laddr);
  Buffer.from([127, 0, 0, 2]).copy(b, H.raddr);
  b.write('curl', H.comm, 'latin1');
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
  v6.fill(0, H.laddr, H.comm);
  v6[H.laddr + 15] = 1; // ::1
  v6[H.raddr + 15] = 1;
  const mapped = record({ family: 10, conn: 2 });
  mapped.fill(0, H.laddr, H.comm);
  Buffer.from([0xff, 0xff, 10, 0, 0, 1]).copy(mapped, H.laddr + 10);
  Buffer.from([0xff, 0xff, 10, 0, 0, 2]).copy(mapped, H.raddr + 10);
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

/** The bytes of a sendfile as the tcp receiver reports them: an exact gap flagged kernel-side. */
const kernelSideGap = (offset: number, lost: number) => record({ offset, lost, flags: 1 });

test('file records: the path from the components sent (only those set) fills the kernel-side gap that follows; a short or lying record is malformed', () => {
  const reads: [string, number, number][] = [];
  const d = new RecordDecoder('tcp', 0n);
  d.fileSends = new FileSendJoiner(
    16 << 20,
    reading((p, offset, length) => (reads.push([p, offset, length]), Buffer.from('hello world'.slice(offset, offset + length)))),
  );
  const file = (components: string[], offset: number, sent: number, opts: { claim?: number; cut?: number } = {}) => {
    const payload = Buffer.alloc(16 + components.length * 128 - (opts.cut ?? 0));
    payload.writeBigUInt64LE(6n, 0); // file offset
    payload.writeUInt32LE(5, 8); // in_fd
    payload.writeUInt32LE(opts.claim ?? components.length, 12);
    components.forEach((c, i) => payload.write(c, 16 + i * 128, 'latin1'));
    return record({ kind: 5, offset, lost: sent, payload });
  };
  const [c] = decode(d, batch(file(['index.html', 'www', 'srv'], 100, 5), kernelSideGap(100, 5)));
  assert.deepEqual(reads, [], 'handed on unread');
  assert.deepEqual([c?.offset, c?.data.length, c?.lostAfter, c?.kernelSide], [100, 0, 5, false]);
  assert.deepEqual(originOf(c), { path: '/srv/www/index.html', offset: 6 });
  assert.equal(c?.source, 'tcp/syscalls+file');
  assert.equal(d.stats.kernelSideFromFiles, 5);
  assert.equal(readRange(c), 'world');
  assert.deepEqual(reads, [['/srv/www/index.html', 6, 5]]);
  const none = decode(d, batch(file([], 105, 4), kernelSideGap(105, 4)));
  assert.deepEqual(originOf(none[0]), { path: '', offset: 6 });
  assert.equal(readRange(none[0]), '', 'no path: the range cannot be read');
  assert.equal(reads.length, 1);
  assert.deepEqual(decode(d, batch(file(['a', 'b'], 200, 1, { claim: 3 }), file(['a'], 200, 1, { cut: 1 }), file(['a'], 200, 1, { claim: 17 }))), []);
  assert.equal(d.stats.malformed, 3);
});

test('hostile batches: bad version, length beyond the record, truncated frames, random bytes — skipped and counted, never thrown', () => {
  const d = new RecordDecoder('tcp', 0n);
  const badVersion = record({ version: 9, payload: Buffer.from('x') });
  const lying = record({ payload: Buffer.from('abc') });
  lying.writeUInt32LE(1 << 20, H.len); // claims 1 MiB of payload
  const good = record({ payload: Buffer.from('ok') });
  const out = decode(d, batch(badVersion, lying, good));
  assert.deepEqual(
    out.map((c) => c.data.toString()),
    ['ok'],
  );
  assert.equal(d.stats.malformed, 2);

  const truncated = batch(good).subarray(0, 50);
  assert.deepEqual(decode(d, truncated), []);
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
  for (let i = 0; i < 200; i++) {
    const junk = Buffer.from(Array.from({ length: 8 + ((i * 37) % 400) }, rnd));
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

test('sendfile: each kernel-side gap in the range carries its file offset and a reader; what is read and what cannot be is counted', () => {
  const reads: Array<[string, number, number]> = [];
  const reader = reading((p, offset, length) => {
    reads.push([p, offset, length]);
    return p.endsWith('gone.bin') ? null : Buffer.from('x'.repeat(length - 1));
  });
  const d = new RecordDecoder('tcp', 0n, 16);
  const joiner = new FileSendJoiner(16 << 20, reader);
  d.fileSends = joiner;
  const [a, b, gone] = decode(
    d,
    batch(
      // A sendfile of 10 bytes that the socket layer sends in two page sends (fentry/kprobe backends).
      record({ kind: 5, offset: 100, lost: 10, payload: filePayload(1 << 20, ['big.bin', 'www', 'srv']) }),
      kernelSideGap(100, 4),
      kernelSideGap(104, 6),
      record({ kind: 5, offset: 110, lost: 4, payload: filePayload(0, ['gone.bin', 'tmp']) }),
      kernelSideGap(110, 4),
    ),
  );
  assert.deepEqual(reads, []);
  assert.deepEqual([a?.offset, a?.data.length, a?.lostAfter, originOf(a)], [100, 0, 4, { path: '/srv/www/big.bin', offset: 1 << 20 }]);
  assert.deepEqual([b?.offset, b?.data.length, b?.lostAfter, originOf(b)], [104, 0, 6, { path: '/srv/www/big.bin', offset: (1 << 20) + 4 }]);
  assert.deepEqual([gone?.data.length, gone?.lostAfter, originOf(gone)], [0, 4, { path: '/tmp/gone.bin', offset: 0 }]);
  assert.deepEqual(joiner.stats, { started: 2, ranges: 14, reread: 0, unread: 0 }, 'nothing read until needed');
  // The processor reads the first 2 bytes of b (say a body's captured head), then all of a, then fails on gone.
  assert.equal(readRange(b, 0, 2), 'x');
  assert.equal(readRange(a), 'xxx');
  assert.equal(readRange(gone), '');
  gone!.file!.reader!.giveUp(0);
  assert.deepEqual(reads, [
    ['/srv/www/big.bin', (1 << 20) + 4, 2],
    ['/srv/www/big.bin', 1 << 20, 4],
    ['/tmp/gone.bin', 0, 4],
  ]);
  assert.deepEqual(
    joiner.stats,
    { started: 2, ranges: 14, reread: 4, unread: 6 },
    'a short read counts its shortfall; the 4 bytes of b never read are neither',
  );
  assert.equal(d.stats.kernelSideFromFiles, 14);
});

test('sendfile: a short send bounds its range (REC_FILE_SENT); later kernel-side gaps, other connections and ingress stay gaps', () => {
  const d = new RecordDecoder('tcp', 0n);
  d.fileSends = new FileSendJoiner(
    16 << 20,
    reading((_p, _o, length) => Buffer.alloc(length, 'f')),
  );
  const out = decode(
    d,
    batch(
      record({ kind: 5, offset: 300, lost: 100, payload: filePayload(0, ['f.txt']) }),
      record({ kind: 6, offset: 300, lost: 20 }), // it sent 20 of 100 bytes (EAGAIN)
      kernelSideGap(300, 20),
      kernelSideGap(320, 50), // a splice later on the same socket: not from the file
      record({ conn: 8, offset: 300, lost: 20, flags: 1 }), // another connection
      record({ dir: 1, offset: 300, lost: 20, flags: 1 }), // spliced out of the socket
    ),
  );
  assert.deepEqual(
    out.map((c) => [c.offset, c.data.length, c.lostAfter, c.kernelSide, c.file?.path]),
    [
      [300, 0, 20, false, '/f.txt'],
      [320, 0, 50, true, undefined],
      [300, 0, 20, true, undefined],
      [300, 0, 20, true, undefined],
    ],
  );
});

test('sendfile: max_reread_bytes caps each read (0: names the file and reads nothing); without a sendfile receiver the bytes are kernel-side gaps', () => {
  let reads = 0;
  const named = new RecordDecoder('tcp', 0n);
  named.fileSends = new FileSendJoiner(
    0,
    reading(() => (reads++, Buffer.alloc(1))),
  );
  const recs = batch(record({ kind: 5, offset: 0, lost: 10, payload: filePayload(7, ['f.txt']) }), kernelSideGap(0, 10));
  const [c] = decode(named, recs);
  assert.deepEqual([c?.data.length, c?.lostAfter, c?.kernelSide, originOf(c)], [0, 10, false, { path: '/f.txt', offset: 7 }]);
  assert.equal(readRange(c), '');
  assert.equal(reads, 0);
  const capped = new RecordDecoder('tcp', 0n);
  const joiner = new FileSendJoiner(
    3,
    reading((_p, _o, length) => Buffer.alloc(length, 'f')),
  );
  capped.fileSends = joiner;
  assert.equal(readRange(decode(capped, recs)[0]), 'fff');
  assert.deepEqual(joiner.stats, { started: 1, ranges: 10, reread: 3, unread: 7 });
  const alone = decode(new RecordDecoder('tcp', 0n), recs);
  assert.deepEqual(
    alone.map((g) => [g.offset, g.lostAfter, g.kernelSide, g.file]),
    [[0, 10, true, undefined]],
  );
});

test('a lost-bytes record flagged kernel-side (splice) says so', () => {
  const d = new RecordDecoder('tcp', 0n);
  const rec = record({ offset: 5, lost: 4096 });
  rec.writeUInt16LE(1, 6); // REC_FLAG_KERNEL_SIDE
  const [c] = decode(d, batch(rec));
  assert.equal(c?.kernelSide, true);
  assert.equal(c?.lostAfter, 4096);
});

test('records of a version this decoder does not know are refused: skipped, counted, reported once with the version', () => {
  const seen: number[] = [];
  const d = new RecordDecoder('tcp', 0n, undefined, (v) => seen.push(v));
  const out = decode(d, batch(record({ version: 9 }), record({ payload: Buffer.from('ok') }), record({ version: 1 })));
  decode(d, batch(record({ version: 9 })));
  assert.deepEqual(
    out.map((c) => c.data.toString()),
    ['ok'],
  );
  assert.equal(d.stats.malformed, 3);
  assert.deepEqual(seen, [9]);
});

test('sendfile: the gaps of one sendfile are read from the file opened for its first, even once it is renamed; the next sendfile opens it again; the file is closed once its sendfile is over', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcpsniff-reread-'));
  try {
    const file = path.join(dir, 'page.txt');
    fs.writeFileSync(file, 'abcdefghij');
    const d = new RecordDecoder('tcp', 0n);
    const reader = new OpenFileReader();
    d.fileSends = new FileSendJoiner(16 << 20, reader);
    const start = (offset: number) => record({ kind: 5, offset, lost: 10, payload: filePayload(0, ['page.txt', ...dir.split('/').filter(Boolean).reverse()]) });
    /** Files of `dir` this process has open. */
    const openFds = () =>
      fs.readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
        } catch {
          return false; // the directory listing's own descriptor, closed by now
        }
      }).length;
    const [a] = decode(d, batch(start(0), kernelSideGap(0, 4)));
    assert.equal(readRange(a), 'abcd');
    fs.renameSync(file, `${file}.old`); // the open file is still the one the sendfile sent from
    await new Promise((r) => setImmediate(r)); // another batch, later: its sendfile is not over, the file stays open
    const [b] = decode(d, batch(kernelSideGap(4, 6))); // its last bytes: the sendfile is over
    assert.equal(readRange(b), 'efghij', 'read after the sendfile ended, in the same turn');
    assert.equal(openFds(), 1);
    await new Promise((r) => setImmediate(r));
    assert.equal(openFds(), 0, 'closed on the next turn');
    const [c] = decode(d, batch(start(10), kernelSideGap(10, 10)));
    assert.deepEqual([c?.lostAfter, c?.file?.path, readRange(c)], [10, file, ''], 'a new sendfile opens the path again: gone');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
  assert.deepEqual(
    out.map((c) => [c.kind, c.direction, c.conn.tls === true, c.source]),
    [
      ['data', 'egress', false, 'tcp/syscalls'],
      ['close', 'egress', false, 'tcp'],
      ['data', 'egress', true, 'tcp/syscalls+tls'],
      ['data', 'ingress', true, 'tcp/syscalls+tls'],
    ],
  );
  assert.equal(out[2]!.conn.connId, out[0]!.conn.connId);
  assert.equal(out[2]!.conn, out[3]!.conn, 'one meta object per connection');
  assert.equal(out[2]!.conn.remotePort, 8080);
  assert.equal(d.stats.tlsCiphertextDropped, 1);
  assert.equal(d.stats.tlsBytes, 37);
  // A connection whose first record is plaintext needs no close.
  const fresh = decode(d, batch(record({ conn: 9, flags: TLS, payload: Buffer.from('x') })));
  assert.deepEqual(
    fresh.map((c) => [c.kind, c.conn.tls]),
    [['data', true]],
  );
});
