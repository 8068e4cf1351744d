// Decodes batches of kernel records (bpf/include/record.h, version 3) into CaptureChunks.
// A batch is a sequence of [u32 length][u32 reserved][record][padding to 8 bytes]. The batch
// Buffer is only valid during the call: payloads are copied out.

import type { CaptureChunk, ConnectionMeta, ProcessInfo, Role } from '../core/types';
import { formatAddress, isMapped } from '../shared/addresses';

export const REC_VERSION = 4;
/**
 * Byte offsets of struct rec_hdr's fields, and its size (bpf/include/record.h).
 * test/unit/record-layout.test.ts checks them against the BTF of the built BPF objects, and the
 * receiver refuses an addon built from another version (probe-session.ts).
 */
export const REC_HDR = {
  version: 0,
  kind: 1,
  direction: 2,
  role: 3,
  family: 4,
  backend: 5,
  flags: 6,
  pid: 8,
  tid: 12,
  conn_id: 16,
  ts_ns: 24,
  offset: 32,
  len: 40,
  lost_after: 44,
  lport: 48,
  rport: 50,
  reserved: 52,
  laddr: 56,
  raddr: 72,
  comm: 88,
} as const;
export const REC_HEADER_BYTES = 104;
export const COMM_BYTES = 16;
/** Offsets in the payloads of REC_PROC (struct proc_payload), REC_FILE (file_payload), REC_CONN (conn_payload). */
export const PROC_PAYLOAD = { exe: 0, args: 64 } as const;
export const FILE_PAYLOAD = { file_offset: 0, in_fd: 8, components: 12, comp: 16 } as const;
export const CONN_PAYLOAD = { from_peer: 0, path: 1 } as const;
const REC_DATA = 1;
const REC_CLOSE = 2;
const REC_PROC = 3;
const REC_CONN = 4;
const REC_FILE = 5;
const REC_FILE_SENT = 6;
const REC_FLAG_KERNEL_SIDE = 1;
const REC_FLAG_TLS = 2;
export const FILE_COMPONENTS = 16;
export const FILE_COMPONENT_BYTES = 128;
const AF_UNIX = 1;
export const PROC_EXE_BYTES = 64;
const AF_INET = 2;
const ROLES: Role[] = ['unknown', 'client', 'server'];
const BACKENDS = ['unknown', 'syscalls', 'fentry', 'kprobe'];

/** A sendfile(2) as it starts (REC_FILE): its bytes follow as kernel-side gaps from `offset` on. */
export interface FileSendStart {
  /** Stream offset of its first byte. */
  offset: number;
  /** Bytes it may send. */
  bytes: number;
  /** The file's path as the kernel walked it ('' when it could not). */
  path: string;
  fileOffset: number;
}

/**
 * Knows where kernel-side bytes sent on a connection came from (the sendfile receiver): it is
 * told of each sendfile as it starts, and fills the kernel-side gaps its bytes arrive as.
 * Connections are the decoder's keys.
 */
export interface FileSends {
  started(conn: number, s: FileSendStart): void;
  /** The sendfile started at `offset` sent only `bytes` (REC_FILE_SENT). */
  sent(conn: number, offset: number, bytes: number): void;
  /** A kernel-side egress gap: the chunk that replaces it, or null when no sendfile sent these bytes. */
  fill(conn: number, gap: CaptureChunk): CaptureChunk | null;
  closed(conn: number): void;
}

export interface DecodeStats {
  /** Kernel-side gap bytes a FileSends knew the file of (no longer uncaptured). */
  kernelSideFromFiles: number;
  records: number;
  payloadBytes: number;
  lostBytes: number; // bytes the kernel reported as not captured (lost_after)
  malformed: number; // records with an unknown version or a bad length: skipped
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
  /** `receiver/backend` per backend number: the same string on every chunk. */
  private readonly sources: string[];
  private readonly tlsSources: string[];
  private unknownVersionSeen = false;
  readonly stats: DecodeStats = { records: 0, payloadBytes: 0, lostBytes: 0, malformed: 0, kernelSideFromFiles: 0, tlsBytes: 0, tlsCiphertextDropped: 0 };
  /** Where sendfile bodies come from, while a sendfile receiver joins this decoder's connections. */
  fileSends?: FileSends;

  constructor(
    private readonly receiverName: string,
    private readonly clockOffsetNs: bigint,
    private readonly maxConnections = 65536,
    /** Called once, for the first record of a version this decoder does not know (all such are skipped). */
    private readonly onUnknownVersion: (version: number) => void = () => {},
  ) {
    this.sources = BACKENDS.map((b) => `${receiverName}/${b}`);
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
      if (batch[rec + REC_HDR.version] !== REC_VERSION) {
        this.stats.malformed++;
        if (!this.unknownVersionSeen) {
          this.unknownVersionSeen = true;
          this.onUnknownVersion(batch[rec + REC_HDR.version]!);
        }
        continue;
      }
      const chunk = this.decodeRecord(batch, rec, size, out);
      if (chunk) out.push(chunk);
    }
  }

  private decodeRecord(b: Buffer, at: number, size: number, out: CaptureChunk[]): CaptureChunk | null {
    const kind = b[at + REC_HDR.kind]!;
    const connKey = b.readUInt32LE(at + REC_HDR.conn_id + 4) * 0x1_0000_0000 + b.readUInt32LE(at + REC_HDR.conn_id);
    const len = b.readUInt32LE(at + REC_HDR.len);
    if (REC_HEADER_BYTES + len > size) {
      this.stats.malformed++;
      return null;
    }
    this.stats.records++;
    let live = this.conns.get(connKey);
    if (kind === REC_CLOSE) {
      if (!live) return null; // never saw data on it
      this.conns.delete(connKey);
      this.fileSends?.closed(connKey);
      return {
        ...CLOSE_TEMPLATE,
        conn: live.meta,
        timeUnixNano: b.readBigUInt64LE(at + REC_HDR.ts_ns) + this.clockOffsetNs,
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
    if (kind === REC_FILE_SENT) {
      const offset = b.readUInt32LE(at + REC_HDR.offset + 4) * 0x1_0000_0000 + b.readUInt32LE(at + REC_HDR.offset);
      this.fileSends?.sent(connKey, offset, b.readUInt32LE(at + REC_HDR.lost_after));
      return null;
    }
    if (kind !== REC_DATA && kind !== REC_PROC && kind !== REC_FILE) {
      this.stats.malformed++;
      return null;
    }
    live ??= this.track(b, at, connKey);
    const conn = live.meta;
    const lostAfter = b.readUInt32LE(at + REC_HDR.lost_after);
    const offset = b.readUInt32LE(at + REC_HDR.offset + 4) * 0x1_0000_0000 + b.readUInt32LE(at + REC_HDR.offset);
    const pid = b.readUInt32LE(at + REC_HDR.pid);
    if (kind === REC_PROC) return this.processChunk(b, at, len, conn, pid, offset);
    if (kind === REC_FILE) {
      this.fileStart(b, at, len, connKey, offset, lostAfter);
      return null;
    }
    noteSender(live, b, at);
    const flags = b.readUInt16LE(at + REC_HDR.flags);
    const tls = (flags & REC_FLAG_TLS) !== 0;
    if (tls !== live.tls) {
      if (!tls) {
        // In flight before the kernel bound the connection to its TLS session (another thread).
        this.stats.tlsCiphertextDropped++;
        return null;
      }
      this.startTls(live, out, b.readBigUInt64LE(at + REC_HDR.ts_ns) + this.clockOffsetNs);
    }
    live.raw ||= !tls;
    if (tls) this.stats.tlsBytes += len;
    this.stats.payloadBytes += len;
    this.stats.lostBytes += lostAfter;
    const ts = b.readBigUInt64LE(at + REC_HDR.ts_ns);
    const chunk: CaptureChunk = {
      kind: 'data',
      conn: live.meta,
      direction: b[at + REC_HDR.direction] === 0 ? 'egress' : 'ingress',
      offset,
      data: len ? copyOut(b, at + REC_HEADER_BYTES, len) : EMPTY,
      lostAfter,
      timeUnixNano: ts + this.clockOffsetNs,
      pid,
      tid: live.tid,
      comm: live.comm,
      source: (tls ? this.tlsSources : this.sources)[b[at + REC_HDR.backend]!] ?? this.sources[0]!,
      kernelSide: (flags & REC_FLAG_KERNEL_SIDE) !== 0,
    };
    // Bytes a sendfile moved arrive as kernel-side gaps: the sendfile receiver may know their file.
    if ((flags & REC_FLAG_KERNEL_SIDE) !== 0 && len === 0 && b[at + REC_HDR.direction] === 0 && this.fileSends) {
      const filled = this.fileSends.fill(connKey, chunk);
      if (filled) {
        this.stats.kernelSideFromFiles += lostAfter;
        return filled;
      }
    }
    return chunk;
  }

  /**
   * The connection's bytes are TLS plaintext from now on, with their own stream offsets. When raw
   * bytes of it were passed on before (ciphertext of a session that began before the collector,
   * or a protocol's plaintext prelude), a close ends that stream first: what follows is a new one.
   */
  private startTls(live: LiveConn, out: CaptureChunk[], timeUnixNano: bigint): void {
    if (live.raw) out.push({ ...CLOSE_TEMPLATE, conn: live.meta, timeUnixNano, pid: live.pid, tid: live.tid, comm: live.comm, source: this.receiverName });
    live.meta = { ...live.meta, tls: true };
    live.tls = true;
  }

  /** REC_FILE: a sendfile starts on the connection (only the path components set are sent). */
  private fileStart(b: Buffer, at: number, len: number, connKey: number, offset: number, bytes: number): void {
    const payload = at + REC_HEADER_BYTES;
    const count = len >= FILE_PAYLOAD.comp ? b.readUInt32LE(payload + FILE_PAYLOAD.components) : -1;
    if (count < 0 || count > FILE_COMPONENTS || len < FILE_PAYLOAD.comp + count * FILE_COMPONENT_BYTES) {
      this.stats.malformed++;
      return;
    }
    if (!this.fileSends) return; // no sendfile receiver joins: its bytes stay gaps
    const fileOffset = b.readUInt32LE(payload + FILE_PAYLOAD.file_offset + 4) * 0x1_0000_0000 + b.readUInt32LE(payload + FILE_PAYLOAD.file_offset);
    const parts: string[] = [];
    for (let i = count - 1; i >= 0; i--) parts.push(readCString(b, payload + FILE_PAYLOAD.comp + i * FILE_COMPONENT_BYTES, FILE_COMPONENT_BYTES));
    this.fileSends.started(connKey, { offset, bytes, path: count > 0 ? '/' + parts.join('/') : '', fileOffset });
  }

  private processChunk(b: Buffer, at: number, len: number, conn: ConnectionMeta, pid: number, startTimeNs: number): CaptureChunk {
    const payload = at + REC_HEADER_BYTES;
    const args = len > PROC_PAYLOAD.args ? b.toString('utf8', payload + PROC_PAYLOAD.args, payload + len).split('\0') : [];
    while (args.length && args[args.length - 1] === '') args.pop();
    const process: ProcessInfo = { pid, startTimeNs, exe: readCString(b, payload + PROC_PAYLOAD.exe, Math.min(len, PROC_EXE_BYTES)), args };
    return {
      kind: 'process',
      conn,
      direction: 'egress',
      offset: 0,
      data: EMPTY,
      lostAfter: 0,
      timeUnixNano: b.readBigUInt64LE(at + REC_HDR.ts_ns) + this.clockOffsetNs,
      pid,
      tid: b.readUInt32LE(at + REC_HDR.tid),
      comm: readCString(b, at + REC_HDR.comm, COMM_BYTES),
      source: this.receiverName,
      process,
    };
  }

  private track(b: Buffer, at: number, key: number): LiveConn {
    const kernelFamily = b[at + REC_HDR.family];
    const role = ROLES[b[at + REC_HDR.role]!] ?? 'unknown';
    if (kernelFamily === AF_UNIX) {
      // The path arrives in the REC_CONN record that follows.
      // No addresses; the kernel puts the inode numbers of both ends where they would be.
      const ends = { inode: Number(b.readBigUInt64LE(at + REC_HDR.laddr)), peerInode: Number(b.readBigUInt64LE(at + REC_HDR.raddr)) };
      const unix = { connId: this.connIdOf(key), family: 0, localAddr: '', localPort: 0, remoteAddr: '', remotePort: 0, role, ...ends } as const;
      return this.remember(key, { ...unix });
    }
    const mapped = kernelFamily !== AF_INET && isMapped(b, at + REC_HDR.laddr);
    const family = kernelFamily === AF_INET || mapped ? 4 : 6;
    const addrFamily = kernelFamily === AF_INET ? 4 : 6; // layout of the bytes, not of the text
    return this.remember(key, {
      connId: this.connIdOf(key),
      family,
      localAddr: formatAddress(b, at + REC_HDR.laddr, addrFamily),
      localPort: b.readUInt16LE(at + REC_HDR.lport),
      remoteAddr: formatAddress(b, at + REC_HDR.raddr, addrFamily),
      remotePort: b.readUInt16LE(at + REC_HDR.rport),
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
  live.pid = b.readUInt32LE(at + REC_HDR.pid);
  live.tid = b.readUInt32LE(at + REC_HDR.tid);
  if (!cStringIs(b, at + REC_HDR.comm, COMM_BYTES, live.comm)) live.comm = readCString(b, at + REC_HDR.comm, COMM_BYTES);
}

/** REC_CONN payload of a unix socket: [from_peer u8][path bytes]; abstract names read as "@name". */
function unixPath(b: Buffer, at: number, len: number): string {
  if (len <= 1) return '';
  let end = at + len;
  const start = at + CONN_PAYLOAD.path;
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
