// HPACK decoder: Huffman round trips and invalid codes, dynamic table and size updates,
// SETTINGS-acknowledged limits, never-indexed fields, mid-stream attach (unknown entries, then
// learning), list caps and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HARD_MAX_TABLE_SIZE, HpackDecoder, encodeInt, unknownMarker } from '../../src/processors/http/h2/hpack';
import { huffmanDecode, huffmanEncode } from '../../src/processors/http/h2/huffman';
import { prng } from './http-fixtures';
import { HpackEncoder } from './helpers/h2';

const pairs = (r: ReturnType<HpackDecoder['decode']>) => {
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.fields.map((f) => [f.name, f.value]);
};

test('Huffman: every byte value and random strings round-trip', () => {
  let all = '';
  for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
  const rnd = prng(7);
  const cases = ['', 'a', 'www.example.com', 'no-cache', 'custom-key', all];
  for (let i = 0; i < 300; i++) {
    let s = '';
    const n = Math.floor(rnd() * 80);
    for (let j = 0; j < n; j++) s += String.fromCharCode(rnd() < 0.8 ? 32 + Math.floor(rnd() * 95) : Math.floor(rnd() * 256));
    cases.push(s);
  }
  for (const s of cases) {
    const enc = huffmanEncode(s);
    assert.equal(huffmanDecode(enc, 0, enc.length), s, JSON.stringify(s));
  }
  // RFC 7541 C.4.1: "www.example.com"
  assert.equal(huffmanEncode('www.example.com').toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff');
});

test('Huffman: EOS, over-long padding and padding that is not all ones are rejected', () => {
  assert.equal(huffmanDecode(Buffer.from('ffffffff', 'hex'), 0, 4), null); // EOS (30 ones)
  const a = huffmanEncode('a'); // 00011 + 111 padding
  assert.equal(a.toString('hex'), '1f');
  assert.equal(huffmanDecode(Buffer.from([0x18]), 0, 1), null); // padding 000
  assert.equal(huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2), null); // 11 bits of padding
  assert.equal(huffmanDecode(Buffer.from([0xff]), 0, 1), null); // 8 bits of padding
});

test('dynamic table: insertion, indexing, eviction, and size updates that resize', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const b1 = enc.encode([
    [':method', 'GET'],
    [':path', '/a'],
    ['x-one', 'v'.repeat(100)],
    ['x-two', 'w'],
  ]);
  assert.deepEqual(pairs(dec.decode(b1)), [
    [':method', 'GET'],
    [':path', '/a'],
    ['x-one', 'v'.repeat(100)],
    ['x-two', 'w'],
  ]);
  assert.equal(dec.entries, 3);
  // Fully indexed the second time.
  const b2 = enc.encode([
    [':path', '/a'],
    ['x-one', 'v'.repeat(100)],
    ['x-two', 'w'],
  ]);
  assert.ok(b2.length <= 3, `indexed block ${b2.toString('hex')}`);
  assert.deepEqual(pairs(dec.decode(b2)), [
    [':path', '/a'],
    ['x-one', 'v'.repeat(100)],
    ['x-two', 'w'],
  ]);
  // A size update to 100 evicts the oldest entries (:path 39 bytes, x-one 137) and keeps x-two (38).
  const upd: number[] = [];
  enc.sizeUpdate(upd, 100);
  const b3 = Buffer.concat([Buffer.from(upd), enc.encode([['x-two', 'w']])]);
  assert.deepEqual(pairs(dec.decode(b3)), [['x-two', 'w']]);
  assert.equal(dec.entries, 1);
  assert.equal(dec.maxSize, 100);
  // An index beyond the table is an error once the table is known; the decoder then forgets its state.
  const bad: number[] = [];
  encodeInt(bad, 61 + 3, 7, 0x80);
  const r = dec.decode(Buffer.from(bad));
  assert.equal(r.ok, false);
  assert.equal(dec.unknownPrefix, true);
});

test('size updates are bounded by the acknowledged SETTINGS_HEADER_TABLE_SIZE', () => {
  const dec = new HpackDecoder(); // connection start: 4096
  const up = (n: number) => {
    const b: number[] = [];
    encodeInt(b, n, 5, 0x20);
    return Buffer.from([...b, 0x82]);
  };
  assert.equal(dec.decode(up(8192)).ok, false, 'over the default 4096 before any ACK');
  const dec2 = new HpackDecoder();
  dec2.setLimit(8192); // the peer's SETTINGS was acknowledged
  assert.deepEqual(pairs(dec2.decode(up(8192))), [[':method', 'GET']]);
  assert.equal(dec2.maxSize, 8192);
  // Lowering the limit does not resize by itself: the encoder's size update does.
  dec2.setLimit(1024);
  assert.equal(dec2.maxSize, 8192);
  assert.equal(dec2.decode(up(2048)).ok, false);
  const dec3 = new HpackDecoder();
  dec3.setLimit(1024);
  assert.ok(dec3.decode(up(512)).ok);
  assert.equal(dec3.maxSize, 512);
  // A size update after a field is an error.
  assert.equal(new HpackDecoder().decode(Buffer.from([0x82, 0x3f, 0x01])).ok, false);
});

test('never-indexed literals are flagged sensitive; other fields are not', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder();
  const r = dec.decode(
    enc.encode([
      [':method', 'GET'],
      ['authorization', 'Bearer s3cret', 'never'],
      ['x-plain', '1', 'noindex'],
    ]),
  );
  assert.ok(r.ok);
  assert.deepEqual(
    r.fields.map((f) => [f.name, f.sensitive]),
    [
      [':method', false],
      ['authorization', true],
      ['x-plain', false],
    ],
  );
  assert.equal(dec.entries, 0, 'neither is inserted');
});

test('mid-stream attach: entries from before the attach are unknown (marked, never shifted), new ones are learned', () => {
  const enc = new HpackEncoder();
  // Before the collector attached: the encoder inserted :path /orders, x-tenant acme, user-agent.
  enc.encode([
    [':method', 'GET'],
    [':path', '/orders'],
    ['x-tenant', 'acme'],
    ['user-agent', 'app/1'],
  ]);
  const dec = new HpackDecoder({ unknownPrefix: true });
  // Request 2 references all three old entries and inserts two new ones.
  const b2 = enc.encode([
    [':method', 'GET'],
    [':path', '/orders'],
    ['x-tenant', 'acme'],
    ['x-req', 'r2'],
    ['user-agent', 'app/1'],
    ['x-new', 'n'],
  ]);
  const r2 = dec.decode(b2);
  assert.ok(r2.ok);
  assert.deepEqual(
    r2.fields.map((f) => [f.name, f.value, f.unknown]),
    [
      [':method', 'GET', false],
      ['', unknownMarker(64, 'attach'), true], // :path /orders was the oldest of three: index 62 + 2
      ['', unknownMarker(63, 'attach'), true], // x-tenant
      ['x-req', 'r2', false],
      ['', unknownMarker(63, 'attach'), true], // user-agent: the newest old entry, now behind x-req
      ['x-new', 'n', false],
    ],
  );
  assert.equal(r2.unknown, 3);
  assert.equal(unknownMarker(64, 'attach'), '<unknown: dynamic table entry 64 before attach>');
  // Request 3 uses only entries inserted after the attach: decoded fully.
  const r3 = dec.decode(
    enc.encode([
      [':method', 'POST'],
      ['x-req', 'r2'],
      ['x-new', 'n'],
    ]),
  );
  assert.deepEqual(pairs(r3), [
    [':method', 'POST'],
    ['x-req', 'r2'],
    ['x-new', 'n'],
  ]);
  assert.ok(r3.ok && r3.unknown === 0);
  // A literal whose name refers to an old entry: value known, name not; the entry it inserts is learned with an unknown name.
  const r4 = dec.decode(enc.encode([['x-tenant', 'globex']]));
  assert.ok(r4.ok);
  assert.deepEqual(
    r4.fields.map((f) => [f.name, f.value, f.unknown]),
    [['', 'globex', true]],
  );
  // Its marker names the wire index, never the value (which may be a secret).
  assert.equal(r4.fields[0]!.marker, unknownMarker(65, 'attach'));
  const r5 = dec.decode(
    enc.encode([
      ['x-tenant', 'globex'],
      ['x-new', 'n'],
    ]),
  );
  assert.ok(r5.ok);
  assert.deepEqual(
    r5.fields.map((f) => [f.name, f.value, f.unknown]),
    [
      ['', 'globex', true],
      ['x-new', 'n', false],
    ],
  );
  assert.equal(r5.fields[0]!.marker, unknownMarker(62, 'attach')); // the learned globex entry, newest
});

test('mid-stream attach: a size update to 0 proves the table known; learned entries that fill it do too', () => {
  const enc = new HpackEncoder();
  enc.encode([['x-old', 'o']]);
  const dec = new HpackDecoder({ unknownPrefix: true });
  const b: number[] = [];
  enc.sizeUpdate(b, 0);
  enc.sizeUpdate(b, 4096);
  const r = dec.decode(enc.encode([['x-a', '1']], (out) => out.push(...b)));
  assert.deepEqual(pairs(r), [['x-a', '1']]);
  assert.equal(dec.unknownPrefix, false);
  const beyond: number[] = [];
  encodeInt(beyond, 63, 7, 0x80);
  assert.equal(dec.decode(Buffer.from(beyond)).ok, false, 'beyond a known table is an error, not unknown');

  const dec2 = new HpackDecoder({ unknownPrefix: true });
  const enc2 = new HpackEncoder();
  const up: number[] = [];
  enc2.sizeUpdate(up, 200); // known max 200; one 177-byte entry leaves no room for an older one (>= 32 bytes)
  assert.ok(dec2.decode(enc2.encode([['x-big', 'b'.repeat(140)]], (out) => out.push(...up))).ok);
  assert.equal(dec2.unknownPrefix, false);
});

test('header list cap: fields beyond are dropped from the result but still update the table', () => {
  const enc = new HpackEncoder();
  const dec = new HpackDecoder({ maxFields: 3 });
  const fields: Array<[string, string]> = [];
  for (let i = 0; i < 10; i++) fields.push([`x-h${i}`, `v${i}`]);
  const r = dec.decode(enc.encode(fields));
  assert.ok(r.ok);
  assert.equal(r.fields.length, 3);
  assert.equal(r.dropped, 7);
  // x-h9 was dropped from the list but inserted: a later reference decodes.
  assert.deepEqual(pairs(dec.decode(enc.encode([['x-h9', 'v9']]))), [['x-h9', 'v9']]);
});

test('hostile input: bad integers and strings are errors, huge tables stay capped, nothing throws', () => {
  const dec = new HpackDecoder();
  for (const hex of ['ff', 'ffffffffffffff0f', '7f8080808080808080', '400a', '40ff8080', '00', '0081', '8100', '80']) {
    const r = new HpackDecoder().decode(Buffer.from(hex, 'hex'));
    assert.equal(r.ok, false, hex);
  }
  // Mid-stream (limit unknown): a huge size update is accepted but the table is capped.
  const mid = new HpackDecoder({ unknownPrefix: true });
  const enc = new HpackEncoder();
  enc.huffman = false;
  const up: number[] = [];
  encodeInt(up, 1 << 30, 5, 0x20);
  const fields: Array<[string, string]> = [];
  for (let i = 0; i < 2000; i++) fields.push([`x-${i}`, 'v'.repeat(100)]);
  enc.maxSize = 1 << 30;
  const r = mid.decode(enc.encode(fields, (out) => out.push(...up)));
  assert.ok(r.ok);
  assert.ok(mid.size <= HARD_MAX_TABLE_SIZE, `table ${mid.size}`);
  // Entries evicted by the cap are reported as unknown, not as errors.
  const old: number[] = [];
  encodeInt(old, 62 + 1900, 7, 0x80);
  const r2 = mid.decode(Buffer.from(old));
  assert.ok(r2.ok && r2.fields[0]!.unknown);
  // Random garbage never throws.
  const rnd = prng(3);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(Math.floor(rnd() * 64));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
    dec.decode(b);
  }
});
