// Which processes may get in-process (thread) links: decided from what the collector sees of a
// process — its executable's name, its executable file, the threads its bytes move on — never
// from what the process says about itself.

import { openSync, readSync, closeSync } from 'node:fs';

/** Why a process gets no thread links (undefined: it may get them). */
export type RuntimeVerdict = 'event_loop' | 'go' | 'unknown' | undefined;

/**
 * True when the ELF file at `path` was built by the Go toolchain: it has a `.go.buildinfo` or
 * `.note.go.buildid` section (present in every Go binary since Go 1.13, stripped or not).
 * null when the file cannot be read as ELF (gone, no access, not ELF).
 */
export function isGoBinary(path: string): boolean | null {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const read = (pos: number, len: number): Buffer => {
      const b = Buffer.alloc(len);
      const n = readSync(fd, b, 0, len, pos);
      if (n !== len) throw new Error('short read');
      return b;
    };
    const eh = read(0, 64);
    if (eh.readUInt32BE(0) !== 0x7f454c46) return null; // \x7fELF
    const is64 = eh[4] === 2;
    const le = eh[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const uw = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
    const shoff = uw(eh, is64 ? 0x28 : 0x20);
    const shentsize = u16(eh, is64 ? 0x3a : 0x2e);
    const shnum = u16(eh, is64 ? 0x3c : 0x30);
    const shstrndx = u16(eh, is64 ? 0x3e : 0x32);
    if (shoff === 0 || shnum === 0 || shnum > 4096 || shstrndx >= shnum || shentsize < (is64 ? 64 : 40)) return false;
    const sh = read(shoff, shentsize * shnum);
    const offOf = (i: number) => uw(sh, i * shentsize + (is64 ? 0x18 : 0x10));
    const sizeOf = (i: number) => uw(sh, i * shentsize + (is64 ? 0x20 : 0x14));
    const strSize = Math.min(sizeOf(shstrndx), 1 << 20);
    const names = read(offOf(shstrndx), strSize);
    for (let i = 0; i < shnum; i++) {
      const at = u32(sh, i * shentsize);
      if (at >= names.length) continue;
      const end = names.indexOf(0, at);
      const name = names.toString('latin1', at, end < 0 ? names.length : end);
      if (name === '.go.buildinfo' || name === '.note.go.buildid') return true;
    }
    return false;
  } catch {
    return null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

const PYTHON = /^python(\d+(\.\d+)*)?$/;

export interface RuntimeOptions {
  /** Executable names (basenames) of event-loop runtimes: no thread links for them. */
  eventLoopExecutables: readonly string[];
  /** Where /proc lives. */
  procRoot?: string;
  /** Bound of the per-process cache. */
  maxProcesses?: number;
}

/**
 * Decides, per process incarnation, whether thread links are allowed (rule 3 of the README):
 * - executables named like an event-loop runtime (node, deno, bun by default): no;
 * - Go binaries (goroutines move between threads): no;
 * - Python: only on threads other than the main thread (asyncio servers run their loop on the
 *   main thread; thread-per-request servers — ThreadingHTTPServer, WSGI thread pools — run
 *   requests on worker threads), see `allowsThread`;
 * - an executable that cannot be read (the process is gone): no (unknown is not proof).
 */
export class RuntimeClassifier {
  private readonly cache = new Map<string, RuntimeVerdict>();
  private readonly loops: Set<string>;
  private readonly procRoot: string;
  private readonly max: number;

  constructor(opts: RuntimeOptions) {
    this.loops = new Set(opts.eventLoopExecutables);
    this.procRoot = opts.procRoot ?? '/proc';
    this.max = opts.maxProcesses ?? 4096;
  }

  verdict(pid: number, startNs: number, exe: string): RuntimeVerdict {
    if (this.loops.has(exe)) return 'event_loop';
    const key = `${pid}:${startNs}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const go = isGoBinary(`${this.procRoot}/${pid}/exe`);
    const v: RuntimeVerdict = go === null ? 'unknown' : go ? 'go' : undefined;
    if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, v);
    return v;
  }

  /** Python's main thread may run an asyncio loop: only its other threads get thread links. */
  allowsThread(pid: number, tid: number, exe: string): boolean {
    return !(PYTHON.test(exe) && tid === pid);
  }
}
