// Where to probe Go's crypto/tls in one executable: the entry of (*Conn).Read, (*Conn).Write and
// (*Conn).handshakeContext and each of their RET instructions (a uretprobe would break Go's stack handling), read from the
// binary's symbol table and disassembly (objdump, from binutils). Not a Go binary, stripped, or
// without crypto/tls: undefined.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface GoTlsFunction {
  symbol: string;
  /** Byte offsets of its RET instructions from the function's start. */
  rets: number[];
}

const SYMBOLS = {
  write: 'crypto/tls.(*Conn).Write',
  read: 'crypto/tls.(*Conn).Read',
  handshake: 'crypto/tls.(*Conn).handshakeContext', // go1.17+
} as const;

export function goTlsFunctions(file: string): { write: GoTlsFunction; read: GoTlsFunction; handshake?: GoTlsFunction } | undefined {
  if (!elfSectionNames(file)?.includes('.gopclntab')) return undefined;
  const write = disassemble(file, SYMBOLS.write);
  const read = disassemble(file, SYMBOLS.read);
  return write && read ? { write, read, handshake: disassemble(file, SYMBOLS.handshake) } : undefined;
}

function disassemble(file: string, symbol: string): GoTlsFunction | undefined {
  const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', `--disassemble=${symbol}`, file], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 20_000 });
  if (r.status !== 0) return undefined;
  const start = new RegExp(`^([0-9a-f]+) <${symbol.replace(/[.*()/]/g, '\\$&')}>:$`, 'm').exec(r.stdout);
  if (!start) return undefined;
  const base = parseInt(start[1]!, 16);
  const rets = [...r.stdout.matchAll(/^\s*([0-9a-f]+):\s+ret\b/gm)].map((m) => parseInt(m[1]!, 16) - base);
  return rets.length ? { symbol, rets } : undefined;
}

/** Section names of a 64-bit little-endian ELF file, or undefined. */
export function elfSectionNames(file: string): string[] | undefined {
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
    const names: string[] = [];
    for (let i = 0; i < shnum; i++) {
      const at = sh.readUInt32LE(i * shentsize);
      const end = strtab.indexOf(0, at);
      if (at < strtab.length) names.push(strtab.toString('latin1', at, end < 0 ? strtab.length : end));
    }
    return names;
  } catch {
    return undefined;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}
