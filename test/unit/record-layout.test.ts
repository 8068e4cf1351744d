// The kernel record format has one source, bpf/include/record.h. The decoder's offsets
// (src/receivers/record.ts) are checked here against the BTF the compiler wrote for
// struct rec_hdr and the payload structs into every built BPF object, and the addon's constants
// (compiled from the header) against the decoder's. A field moved, resized or added on one side
// only fails this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  COMM_BYTES,
  CONN_PAYLOAD,
  FILE_COMPONENT_BYTES,
  FILE_COMPONENTS,
  FILE_PAYLOAD,
  PROC_EXE_BYTES,
  PROC_PAYLOAD,
  REC_HDR,
  REC_HEADER_BYTES,
  REC_VERSION,
} from '../../src/receivers/record';
import { loadAddon } from '../../src/receivers/native';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BPF_DIR = path.join(ROOT, 'dist', 'bpf');

interface BtfType {
  kind: string;
  name: string;
  size?: number;
  type?: number;
  elems?: number;
  members: Array<{ name: string; type: number; bitsOffset: number }>;
}

/** `bpftool btf dump file X format raw`, parsed: type id → type. */
function btfTypes(object: string): Map<number, BtfType> {
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', object, 'format', 'raw'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `bpftool (scripts/setup.sh installs it): ${r.stderr}`);
  const types = new Map<number, BtfType>();
  let cur: BtfType | undefined;
  for (const line of r.stdout.split('\n')) {
    const t = /^\[(\d+)\] (\w+) '([^']*)'(.*)$/.exec(line);
    if (t) {
      const attr = (k: string) => {
        const m = new RegExp(`\\b${k}=(\\d+)`).exec(t[4]!);
        return m ? Number(m[1]) : undefined;
      };
      cur = { kind: t[2]!, name: t[3]!, size: attr('size'), type: attr('type_id'), elems: attr('nr_elems'), members: [] };
      types.set(Number(t[1]), cur);
      continue;
    }
    const m = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (m && cur) cur.members.push({ name: m[1]!, type: Number(m[2]), bitsOffset: Number(m[3]) });
  }
  return types;
}

function sizeOf(types: Map<number, BtfType>, id: number): number {
  const t = types.get(id)!;
  if (t.kind === 'ARRAY') return t.elems! * sizeOf(types, t.type!);
  if (t.kind === 'TYPEDEF' || t.kind === 'CONST' || t.kind === 'VOLATILE') return sizeOf(types, t.type!);
  return t.size!;
}

/** struct `name` as laid out by the compiler: its size, and each field's byte offset and size. */
function layout(types: Map<number, BtfType>, name: string): { size: number; fields: Record<string, { offset: number; size: number }> } {
  const s = [...types.values()].find((t) => t.kind === 'STRUCT' && t.name === name);
  assert.ok(s, `struct ${name} in the BTF`);
  const fields: Record<string, { offset: number; size: number }> = {};
  for (const m of s.members) fields[m.name] = { offset: m.bitsOffset / 8, size: sizeOf(types, m.type) };
  return { size: s.size!, fields };
}

const offsets = (l: ReturnType<typeof layout>) => Object.fromEntries(Object.entries(l.fields).map(([k, v]) => [k, v.offset]));

// doctor's objects write no records; exec_watch's bare rec_hdr lives on the stack only, so its BTF
// does not carry the struct (the header is the same record.h's, checked in every other object).
const objects = fs.existsSync(BPF_DIR)
  ? fs.readdirSync(BPF_DIR).filter((f) => f.endsWith('.bpf.o') && !f.startsWith('doctor') && !f.startsWith('exec_watch'))
  : [];

test('the built BPF objects are there (npm run setup)', () => {
  for (const o of ['tcp_syscalls', 'tcp_kernel', 'unix_syscalls', 'unix_kernel']) assert.ok(objects.includes(`${o}.bpf.o`), `${o}.bpf.o in ${BPF_DIR}`);
});

const seen = new Set<string>();
for (const object of objects) {
  test(`${object}: the decoder's offsets are those of struct rec_hdr and the payload structs`, () => {
    const types = btfTypes(path.join(BPF_DIR, object));
    const hdr = layout(types, 'rec_hdr');
    assert.equal(hdr.size, REC_HEADER_BYTES, 'sizeof(struct rec_hdr)');
    assert.deepEqual(offsets(hdr), REC_HDR, 'every field of struct rec_hdr, at the offset the decoder reads it');
    assert.equal(hdr.fields['comm']!.size, COMM_BYTES);
    assert.equal(hdr.fields['laddr']!.size, 16);
    assert.equal(hdr.fields['raddr']!.size, 16);

    // Each payload struct is in the objects that write it (file_payload: sendfile; conn_payload: unix).
    const has = (name: string) => [...types.values()].some((t) => t.kind === 'STRUCT' && t.name === name);
    if (has('proc_payload')) {
      const proc = layout(types, 'proc_payload');
      assert.deepEqual(offsets(proc), PROC_PAYLOAD);
      assert.equal(proc.fields['exe']!.size, PROC_EXE_BYTES);
      seen.add('proc_payload');
    }
    if (has('file_payload')) {
      const file = layout(types, 'file_payload');
      assert.deepEqual(offsets(file), FILE_PAYLOAD);
      assert.equal(file.fields['comp']!.size, FILE_COMPONENTS * FILE_COMPONENT_BYTES);
      seen.add('file_payload');
    }
    if (has('conn_payload')) {
      assert.deepEqual(offsets(layout(types, 'conn_payload')), CONN_PAYLOAD);
      seen.add('conn_payload');
    }
  });
}

test('every payload struct the decoder reads is checked in some built object', () => {
  assert.deepEqual([...seen].sort(), ['conn_payload', 'file_payload', 'proc_payload']);
});

test('the addon is built from the same record.h: version and header size', () => {
  const addon = loadAddon();
  assert.equal(addon.recordVersion, REC_VERSION);
  assert.equal(addon.recordHeaderBytes, REC_HEADER_BYTES);
  assert.equal(addon.recordChunkBytes, 16384);
});
