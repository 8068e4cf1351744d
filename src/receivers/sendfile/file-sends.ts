// Bodies sent with sendfile(2) never pass through user memory: the tcp receiver sees their bytes
// as exact kernel-side gaps, and the sendfile receiver's REC_FILE record, just before them on the
// same connection, says which file and offset they come from. This fills those gaps with the
// range read again from the file (the chunk's source says `+file`); what cannot be read stays a
// gap of the exact length, now with its file named, so the stream stays in step either way.
import * as fs from 'node:fs';
import type { CaptureChunk } from '../../core/types';
import type { FileSendStart, FileSends } from '../record';

/** Reads ranges of the files sendfile bodies come from; `owner` is the sendfile a read is for. */
export interface RangeReader {
  /** `length` bytes at `offset` (fewer at the file's end); null when it cannot (gone, renamed, no access). */
  read(owner: object, path: string, offset: number, length: number): Buffer | null;
  /** That sendfile is over: its file may be closed. */
  release(owner: object): void;
}

/**
 * Keeps the file of the latest sendfile open: on the fentry/kprobe backends up to 6.4 each page
 * the socket layer sends is a gap of its own (tens per body), read from one open file instead of
 * opened, read and closed each time. One file is open at a time.
 */
export class OpenFileReader implements RangeReader {
  private fd = -1;
  private owner: object | undefined;

  read(owner: object, path: string, offset: number, length: number): Buffer | null {
    try {
      if (this.owner !== owner) {
        this.close();
        this.fd = fs.openSync(path, 'r');
        this.owner = owner;
      }
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < buf.length) {
        const n = fs.readSync(this.fd, buf, got, buf.length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } catch {
      this.close();
      return null;
    }
  }

  release(owner: object): void {
    if (owner === this.owner) this.close();
  }

  private close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.owner = undefined;
  }
}

/** A sendfile whose bytes may still arrive: stream offsets [offset, end). */
interface InFlight extends FileSendStart {
  end: number;
}

export interface FileSendStats {
  /** sendfile calls seen starting on captured connections. */
  started: number;
  /** Their bytes read again from the file / left as gaps (unreadable, or over max_reread_bytes). */
  reread: number;
  unread: number;
}

const EMPTY = Buffer.alloc(0);

export class FileSendJoiner implements FileSends {
  /** Per connection (the tcp decoder's key), the latest sendfile: one at a time per socket. */
  private readonly inFlight = new Map<number, InFlight>();
  private readonly fileSources = new Map<string, string>();
  readonly stats: FileSendStats = { started: 0, reread: 0, unread: 0 };

  constructor(
    /** Bytes read again per gap at most (0: name the file, read nothing). */
    private readonly maxRereadBytes: number,
    private readonly files: RangeReader = new OpenFileReader(),
    private readonly maxConnections = 65536,
  ) {}

  started(conn: number, s: FileSendStart): void {
    this.stats.started++;
    if (!this.inFlight.has(conn) && this.inFlight.size >= this.maxConnections) {
      // Connections whose close never came (evicted in the kernel): forget the oldest.
      this.forget(this.inFlight.keys().next().value!);
    }
    this.forget(conn);
    this.inFlight.set(conn, { ...s, end: s.offset + s.bytes });
  }

  sent(conn: number, offset: number, bytes: number): void {
    const f = this.inFlight.get(conn);
    if (f?.offset !== offset) return;
    if (bytes === 0) this.forget(conn);
    else f.end = offset + bytes;
  }

  fill(conn: number, gap: CaptureChunk): CaptureChunk | null {
    const f = this.inFlight.get(conn);
    if (!f) return null;
    const start = gap.offset;
    const end = start + gap.lostAfter;
    if (start < f.offset || end > f.end) {
      if (start >= f.end) this.forget(conn); // its bytes have all gone by
      return null; // not this sendfile's bytes: a gap as the tcp receiver saw it
    }
    const fileOffset = f.fileOffset + (start - f.offset);
    const want = Math.min(gap.lostAfter, this.maxRereadBytes);
    const data = f.path && want > 0 ? (this.files.read(f, f.path, fileOffset, want) ?? EMPTY) : EMPTY;
    if (end === f.end) this.forget(conn);
    this.stats.reread += data.length;
    this.stats.unread += gap.lostAfter - data.length;
    return {
      ...gap,
      data,
      lostAfter: gap.lostAfter - data.length,
      kernelSide: false,
      file: { path: f.path, offset: fileOffset },
      source: this.fileSource(gap.source),
    };
  }

  closed(conn: number): void {
    this.forget(conn);
  }

  private forget(conn: number): void {
    const f = this.inFlight.get(conn);
    if (!f) return;
    this.inFlight.delete(conn);
    this.files.release(f);
  }

  /** `tcp/syscalls` → `tcp/syscalls+file`, the same string on every chunk. */
  private fileSource(source: string): string {
    let s = this.fileSources.get(source);
    if (s === undefined) this.fileSources.set(source, (s = `${source}+file`));
    return s;
  }
}
