// Decodes batches of kernel records (bpf/include/record.h, version 2) into CaptureChunks.
// A batch is a sequence of [u32 length][u32 reserved][record][padding to 8 bytes]. The batch
// Buffer is only valid during the call: payloads are copied out.

import * as fs from 'node:fs';
import type { CaptureChunk, ConnectionMeta, ProcessInfo, Role } from '../core/types';
import { formatAddress, isMapped } from './addresses';

export const REC_VERSION = 2;
export const REC_HEADER_BYTES = 104;
const REC_DATA = 1;
const REC_CLOSE = 2;
const REC_PROC = 3;
const REC_CONN = 4;
const REC_FILE = 5;
const REC_FLAG_KERNEL_SIDE = 1;
const REC_FLAG_TLS = 2;
const FILE_COMPONENTS = 16;
const FILE_COMPONENT_BYTES = 128;
/** A sendfile range is read again from the file up to this many bytes (the rest is a gap). */
export const MAX_FILE_REREAD_BYTES = 16 << 20;
const AF_UNIX = 1;
const PROC_EXE_BYTES = 64;
const AF_INET = 2;
const ROLES: Role[] = ['unknown', 'client', 'server'];
const BACKENDS = ['unknown', 'syscalls', 'fentry', 'kprobe'];

/** Reads `length` bytes of a file at `offset`; null when it cannot (gone, renamed, no access). */
export type FileRangeReader = (path: string, offset: number, length: number) => Buffer | null;

export function readFileRange(path: string, offset: number, length: number): Buffer | null {
  let fd = -1;
  try {
    fd = fs.openSync(path, 'r');
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_FILE_REREAD_BYTES));
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } catch {
    return null;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

export interface DecodeStats {
  /** sendfile bytes read again from their file / that could not be (left as gaps). */
  fileReread: number;
  fileUnread: number;
  records: number;
  payloadBytes: number;
  lostBytes: number; // bytes the kernel reported as not captured (lost_after)
  malformed: number; // records with a bad version or length: skipped
  /** TLS plaintext bytes (from the TLS library, bpf/include/tls_capture.h). */
  tlsBytes: number;
  /** Raw (ciphertext) records of a connection already carrying TLS plaintext: dropped. */
  tlsCiphertextDropped: number;
}

/** A live connection: its metadata, and who last used it (close records carry no process). */
interface LiveConn {
  meta: ConnectionMeta;
  pid: number;
  tid: number;
  comm: string;
  /** Raw bytes of it were passed on / its TLS plaintext is (from then on, only that). */
  raw: boolean;
  tls: boolean;
}

/** Decodes records, keeping one ConnectionMeta object per live connection. */
export class RecordDecoder {
  private readonly conns = new Map<number, LiveConn>();
  /** `receiver/backend` per backend number (and `+file` for re-read sendfile ranges): the same string on every chunk. */
  private readonly sources: string[];
  private readonly fileSources: string[];
  private readonly tlsSources: string[];
  readonly stats: DecodeStats = { records: 0, payloadBytes: 0, lostBytes: 0, malformed: 0, fileReread: 0, fileUnread: 0, tlsBytes: 0, tlsCiphertextDropped: 0 };

  constructor(
    private readonly receiverName: string,
    private readonly clockOffsetNs: bigint,
    private readonly maxConnections = 65536,
    private readonly readFile: FileRangeReader = readFileRange,
  ) {
    this.sources = BACKENDS.map((b) => `${receiverName}/${b}`);
    this.fileSources = this.sources.map((s) => `${s}+file`);
    this.tlsSources = this.sources.map((s) => `${s}+tls`);
  }

  get openConnections(): number {
    return this.conns.size;
  }

  decodeBatch(batch: Buffer, out: CaptureChunk[]): void {
    let pos = 0;
    while (pos + 8 <= batch.length) {
      const size = batch.readUInt32LE(pos);
      const rec = pos + 8;
      if (size < REC_HEADER_BYTES || size > batch.length - rec) {
        this.stats.malformed++;
        return; // the framing cannot be trusted past this point
      }
      pos = rec + Math.ceil(size / 8) * 8;
      if (batch[rec] !== REC_VERSION) {
        this.stats.malformed++;
        continue;
      }
      const chunk = this.decodeRecord(batch, rec, size, out);
      if (chunk) out.push(chunk);
    }
  }

  private decodeRecord(b: Buffer, at: number, size: number, out: CaptureChunk[]): CaptureChunk | null {
    const kind = b[at + 1]!;
    const connKey = b.readUInt32LE(at + 20) * 0x1_0000_0000 + b.readUInt32LE(at + 16);
    const len = b.readUInt32LE(at + 40);
    if (REC_HEADER_BYTES + len > size) {
      this.stats.malformed++;
      return null;
    }
    this.stats.records++;
    let live = this.conns.get(connKey);
    if (kind === REC_CLOSE) {
      if (!live) return null; // never saw data on it
      this.conns.delete(connKey);
      return {
        ...CLOSE_TEMPLATE,
        conn: live.meta,
        timeUnixNano: b.readBigUInt64LE(at + 24) + this.clockOffsetNs,
        pid: live.pid,
        tid: live.tid,
        comm: live.comm,
        source: this.receiverName,
      };
    }
    if (kind === REC_CONN) {
      (live ?? this.track(b, at, connKey)).meta.path = unixPath(b, at + REC_HEADER_BYTES, len);
      return null;
    }
    if (kind !== REC_DATA && kind !== REC_PROC && kind !== REC_FILE) {
      this.stats.malformed++;
      return null;
    }
    live ??= this.track(b, at, connKey);
    const conn = live.meta;
    const lostAfter = b.readUInt32LE(at + 44);
    const offset = b.readUInt32LE(at + 36) * 0x1_0000_0000 + b.readUInt32LE(at + 32);
    const pid = b.readUInt32LE(at + 8);
    if (kind === REC_PROC) return this.processChunk(b, at, len, conn, pid, offset);
    noteSender(live, b, at);
    if (kind === REC_FILE) return this.fileChunk(b, at, len, live, offset, lostAfter);
    const flags = b.readUInt16LE(at + 6);
    const tls = (flags & REC_FLAG_TLS) !== 0;
    if (tls !== live.tls) {
      if (!tls) {
        // In flight before the kernel bound the connection to its TLS session (another thread).
        this.stats.tlsCiphertextDropped++;
        return null;
      }
      this.startTls(live, out, b.readBigUInt64LE(at + 24) + this.clockOffsetNs);
    }
    live.raw ||= !tls;
    if (tls) this.stats.tlsBytes += len;
    this.stats.payloadBytes += len;
    this.stats.lostBytes += lostAfter;
    const ts = b.readBigUInt64LE(at + 24);
    return {
      kind: 'data',
      conn: live.meta,
      direction: b[at + 2] === 0 ? 'egress' : 'ingress',
      offset,
      data: len ? copyOut(b, at + REC_HEADER_BYTES, len) : EMPTY,
      lostAfter,
      timeUnixNano: ts + this.clockOffsetNs,
      pid,
      tid: live.tid,
      comm: live.comm,
      source: (tls ? this.tlsSources : this.sources)[b[at + 5]!] ?? this.sources[0]!,
      kernelSide: (flags & REC_FLAG_KERNEL_SIDE) !== 0,
    };
  }

  /**
   * The connection's bytes are TLS plaintext from now on, with their own stream offsets. When raw
   * bytes of it were passed on before (ciphertext of a session that began before the collector,
   * or a protocol's plaintext prelude), a close ends that stream first: what follows is a new one.
   */
  private startTls(live: LiveConn, out: CaptureChunk[], timeUnixNano: bigint): void {
    if (live.raw)
      out.push({ ...CLOSE_TEMPLATE, conn: live.meta, timeUnixNano, pid: live.pid, tid: live.tid, comm: live.comm, source: this.receiverName });
    live.meta = { ...live.meta, tls: true };
    live.tls = true;
  }

  /**
   * Bytes sent with sendfile never pass through user memory: the kernel says which file range
   * they came from, and the range is read again here (the source says so). What cannot be read
   * stays a gap of the exact length, so the stream stays in step.
   */
  private fileChunk(b: Buffer, at: number, len: number, live: LiveConn, offset: number, sent: number): CaptureChunk | null {
    const payload = at + REC_HEADER_BYTES;
    // Only the path components set are sent (record version 2).
    const count = len >= 16 ? b.readUInt32LE(payload + 12) : -1;
    if (count < 0 || count > FILE_COMPONENTS || len < 16 + count * FILE_COMPONENT_BYTES) {
      this.stats.malformed++;
      return null;
    }
    const fileOffset = b.readUInt32LE(payload + 4) * 0x1_0000_0000 + b.readUInt32LE(payload);
    const parts: string[] = [];
    for (let i = count - 1; i >= 0; i--) parts.push(readCString(b, payload + 16 + i * FILE_COMPONENT_BYTES, FILE_COMPONENT_BYTES));
    const path = count > 0 ? '/' + parts.join('/') : '';
    const data = count > 0 ? (this.readFile(path, fileOffset, sent) ?? EMPTY) : EMPTY;
    this.stats.fileReread += data.length;
    this.stats.fileUnread += sent - data.length;
    return {
      kind: 'data',
      conn: live.meta,
      direction: 'egress',
      offset,
      data,
      lostAfter: sent - data.length,
      timeUnixNano: b.readBigUInt64LE(at + 24) + this.clockOffsetNs,
      pid: live.pid,
      tid: live.tid,
      comm: live.comm,
      source: this.fileSources[b[at + 5]!] ?? this.fileSources[0]!,
      file: { path, offset: fileOffset },
    };
  }

  private processChunk(b: Buffer, at: number, len: number, conn: ConnectionMeta, pid: number, startTimeNs: number): CaptureChunk {
    const payload = at + REC_HEADER_BYTES;
    const args = len > PROC_EXE_BYTES ? b.toString('utf8', payload + PROC_EXE_BYTES, payload + len).split('\0') : [];
    while (args.length && args[args.length - 1] === '') args.pop();
    const process: ProcessInfo = { pid, startTimeNs, exe: readCString(b, payload, Math.min(len, PROC_EXE_BYTES)), args };
    return {
      kind: 'process',
      conn,
      direction: 'egress',
      offset: 0,
      data: EMPTY,
      lostAfter: 0,
      timeUnixNano: b.readBigUInt64LE(at + 24) + this.clockOffsetNs,
      pid,
      tid: b.readUInt32LE(at + 12),
      comm: readCString(b, at + 88, 16),
      source: this.receiverName,
      process,
    };
  }

  private track(b: Buffer, at: number, key: number): LiveConn {
    const kernelFamily = b[at + 4];
    const role = ROLES[b[at + 3]!] ?? 'unknown';
    if (kernelFamily === AF_UNIX) {
      // The path arrives in the REC_CONN record that follows.
      const unix = { connId: this.connIdOf(key), family: 0, localAddr: '', localPort: 0, remoteAddr: '', remotePort: 0, role } as const;
      return this.remember(key, { ...unix });
    }
    const mapped = kernelFamily !== AF_INET && isMapped(b, at + 56);
    const family = kernelFamily === AF_INET || mapped ? 4 : 6;
    const addrFamily = kernelFamily === AF_INET ? 4 : 6; // layout of the bytes, not of the text
    return this.remember(key, {
      connId: this.connIdOf(key),
      family,
      localAddr: formatAddress(b, at + 56, addrFamily),
      localPort: b.readUInt16LE(at + 48),
      remoteAddr: formatAddress(b, at + 72, addrFamily),
      remotePort: b.readUInt16LE(at + 50),
      role,
    });
  }

  /** Connection ids are per BPF object: the receiver's name keeps two receivers' ids apart. */
  private connIdOf(key: number): string {
    return `${this.receiverName}:${key.toString(16)}`;
  }

  private remember(key: number, conn: ConnectionMeta): LiveConn {
    if (this.conns.size >= this.maxConnections) {
      // Sockets whose close we never saw (e.g. LRU-evicted in the kernel): forget the oldest.
      const oldest = this.conns.keys().next().value;
      if (oldest !== undefined) this.conns.delete(oldest);
    }
    const live: LiveConn = { meta: conn, pid: 0, tid: 0, comm: '', raw: false, tls: false };
    this.conns.set(key, live);
    return live;
  }
}

const EMPTY = Buffer.alloc(0);

/** The process that sent a data or file record (close records carry none: the last one is kept). */
function noteSender(live: LiveConn, b: Buffer, at: number): void {
  live.pid = b.readUInt32LE(at + 8);
  live.tid = b.readUInt32LE(at + 12);
  if (!cStringIs(b, at + 88, 16, live.comm)) live.comm = readCString(b, at + 88, 16);
}

/** REC_CONN payload of a unix socket: [from_peer u8][path bytes]; abstract names read as "@name". */
function unixPath(b: Buffer, at: number, len: number): string {
  if (len <= 1) return '';
  let end = at + len;
  const start = at + 1;
  if (b[start] === 0) return '@' + b.toString('utf8', start + 1, end).replace(/\0+$/, '');
  while (end > start && b[end - 1] === 0) end--;
  const nul = b.indexOf(0, start);
  return b.toString('utf8', start, nul >= 0 && nul < end ? nul : end);
}
const CLOSE_TEMPLATE = { kind: 'close', direction: 'egress', offset: 0, data: EMPTY, lostAfter: 0 } as const;

/** A copy of b[at..at+len) (from Node's pool when small), without a view made first. */
function copyOut(b: Buffer, at: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  b.copy(out, 0, at, at + len);
  return out;
}

/** The NUL-terminated latin1 text at b[at..at+max) equals `s` (no string made: comm rarely changes). */
function cStringIs(b: Buffer, at: number, max: number, s: string): boolean {
  if (s.length > max) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return s.length === max || b[at + s.length] === 0;
}

function readCString(b: Buffer, at: number, max: number): string {
  let end = at;
  while (end < at + max && b[end] !== 0) end++;
  return b.toString('latin1', at, end);
}
