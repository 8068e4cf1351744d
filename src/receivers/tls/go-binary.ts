// Where to probe Go's crypto/tls in one executable: the entry of (*Conn).Read, (*Conn).Write and
// (*Conn).handshakeContext and each of their RET instructions (a uretprobe would break Go's stack
// handling), from the binary's symbol table, or when it is stripped (`-ldflags=-s`) from Go's own
// function table (.gopclntab, which the runtime needs and stripping keeps), and the disassembly
// (objdump, from binutils). Not a Go binary, or without crypto/tls: undefined.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface GoTlsFunction {
  symbol: string;
  /** Byte offsets of its RET instructions from the function's start. */
  rets: number[];
  /** Stripped binaries: the function's start in the file (attach by offset, not by symbol). */
  fileOffset?: number;
}

const SYMBOLS = {
  write: 'crypto/tls.(*Conn).Write',
  read: 'crypto/tls.(*Conn).Read',
  handshake: 'crypto/tls.(*Conn).handshakeContext', // go1.17+
} as const;

export function goTlsFunctions(file: string): { write: GoTlsFunction; read: GoTlsFunction; handshake?: GoTlsFunction } | undefined {
  const sections = elfSections(file);
  const pclntab = sections?.find((s) => s.name === '.gopclntab');
  if (!sections || !pclntab) return undefined;
  let find = (symbol: string) => disassemble(file, symbol);
  if (!sections.some((s) => s.name === '.symtab')) {
    const text = sections.find((s) => s.name === '.text');
    const funcs = text && goFunctions(file, pclntab, text.addr, Object.values(SYMBOLS));
    if (!text || !funcs) return undefined;
    find = (symbol) => {
      const f = funcs.get(symbol);
      const d = f && disassemble(file, symbol, f);
      return d && { ...d, fileOffset: f.addr - text.addr + text.offset };
    };
  }
  const write = find(SYMBOLS.write);
  const read = find(SYMBOLS.read);
  return write && read ? { write, read, handshake: find(SYMBOLS.handshake) } : undefined;
}

/** The RETs of a function, found by its symbol or (stripped binaries) by its address range. */
function disassemble(file: string, symbol: string, range?: { addr: number; size: number }): GoTlsFunction | undefined {
  const which = range ? [`--start-address=${range.addr}`, `--stop-address=${range.addr + range.size}`] : [`--disassemble=${symbol}`];
  const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', ...which, file], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 20_000 });
  if (r.status !== 0) return undefined;
  let base = range?.addr;
  if (base === undefined) {
    const start = new RegExp(`^([0-9a-f]+) <${symbol.replace(/[.*()/]/g, '\\$&')}>:$`, 'm').exec(r.stdout);
    if (!start) return undefined;
    base = parseInt(start[1]!, 16);
  }
  const rets = [...r.stdout.matchAll(/^\s*([0-9a-f]+):\s+ret\b/gm)].map((m) => parseInt(m[1]!, 16) - base);
  return rets.length ? { symbol, rets } : undefined;
}

/**
 * Start address and size of the named functions, from Go's function table (pcHeader of go1.20
 * and later, magic 0xfffffff1: the versions the TLS capture supports, go1.21+). Entries are
 * offsets from the start of the text (the header's textStart, or .text when the linker left it
 * 0); a function ends where the next one starts. undefined when the table is not that format.
 */
export function goFunctions(file: string, pclntab: ElfSection, textAddr: number, names: string[]): Map<string, { addr: number; size: number }> | undefined {
  const tab = readAt(file, pclntab.offset, pclntab.size);
  if (!tab || tab.length < 72 || tab.readUInt32LE(0) !== 0xfffffff1 || tab[7] !== 8) return undefined;
  const u64 = (at: number) => Number(tab.readBigUInt64LE(at));
  const nfunc = u64(8);
  const textStart = u64(24) || textAddr;
  const funcnames = u64(32);
  const functab = u64(64);
  if (functab + (nfunc + 1) * 8 > tab.length) return undefined;
  const want = new Set(names);
  const out = new Map<string, { addr: number; size: number }>();
  for (let i = 0; i < nfunc && out.size < want.size; i++) {
    const entry = tab.readUInt32LE(functab + i * 8);
    const func = functab + tab.readUInt32LE(functab + i * 8 + 4);
    if (func + 8 > tab.length) return undefined;
    const nameAt = funcnames + tab.readInt32LE(func + 4);
    const end = tab.indexOf(0, nameAt);
    if (nameAt < 0 || end < 0) return undefined;
    const name = tab.toString('latin1', nameAt, end);
    if (want.has(name)) out.set(name, { addr: textStart + entry, size: tab.readUInt32LE(functab + (i + 1) * 8) - entry });
  }
  return out;
}

export interface ElfSection {
  name: string;
  addr: number;
  offset: number;
  size: number;
}

function readAt(file: string, pos: number, len: number): Buffer | undefined {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(len);
    return fs.readSync(fd, b, 0, len, pos) === len ? b : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

/** Sections of a 64-bit little-endian ELF file, or undefined. */
export function elfSections(file: string): ElfSection[] | undefined {
  let fd = -1;
  try {
    fd = fs.openSync(file, 'r');
    const read = (pos: number, len: number) => {
      const b = Buffer.alloc(len);
      return fs.readSync(fd, b, 0, len, pos) === len ? b : undefined;
    };
    const eh = read(0, 64);
    if (!eh || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 || eh[5] !== 1) return undefined;
    const shoff = Number(eh.readBigUInt64LE(0x28));
    const shentsize = eh.readUInt16LE(0x3a);
    const shnum = eh.readUInt16LE(0x3c);
    const shstrndx = eh.readUInt16LE(0x3e);
    if (shentsize < 64 || shnum === 0 || shnum > 4096 || shstrndx >= shnum) return undefined;
    const sh = read(shoff, shentsize * shnum);
    if (!sh) return undefined;
    const strOff = Number(sh.readBigUInt64LE(shstrndx * shentsize + 0x18));
    const strSize = Number(sh.readBigUInt64LE(shstrndx * shentsize + 0x20));
    const strtab = strSize > 0 && strSize < 1 << 20 ? read(strOff, strSize) : undefined;
    if (!strtab) return undefined;
    const sections: ElfSection[] = [];
    for (let i = 0; i < shnum; i++) {
      const h = i * shentsize;
      const at = sh.readUInt32LE(h);
      const end = strtab.indexOf(0, at);
      if (at >= strtab.length) continue;
      const u64 = (o: number) => Number(sh.readBigUInt64LE(h + o));
      sections.push({ name: strtab.toString('latin1', at, end < 0 ? strtab.length : end), addr: u64(0x10), offset: u64(0x18), size: u64(0x20) });
    }
    return sections;
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
