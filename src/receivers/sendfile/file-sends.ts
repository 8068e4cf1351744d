// Bodies sent with sendfile(2) never pass through user memory: the tcp receiver sees their bytes
// as exact kernel-side gaps, and the sendfile receiver's REC_FILE record, just before them on the
// same connection, says which file and offset they come from. This names the file range on each
// such gap and hands it on unread, with a reader: the http processor reads the range again only
// when it needs the bytes (body capture, framing it cannot skip) and skips it otherwise (the
// chunk's source says `+file`). What cannot be read when needed stays a gap of the exact length,
// with its file named, so the stream stays in step either way.
import * as fs from 'node:fs';
import type { CaptureChunk, FileRangeReader } from '../../core/types';
import type { FileSendStart, FileSends } from '../record';

/** The sendfile a read is for: `over` once all its bytes have gone by. */
export interface ReadOwner {
  readonly over: boolean;
}

/** Reads ranges of the files sendfile bodies come from. */
export interface RangeReader {
  /** `length` bytes at `offset` (fewer at the file's end); null when it cannot (gone, renamed, no access). */
  read(owner: ReadOwner, path: string, offset: number, length: number): Buffer | null;
  /** That sendfile is over: its file may be closed once the reads of the current batch are done. */
  release(owner: ReadOwner): void;
}

/**
 * Keeps the file of the latest sendfile read open: on the fentry/kprobe backends up to 6.4 each
 * page the socket layer sends is a gap of its own (tens per body), read from one open file instead
 * of opened, read and closed each time. One file is open at a time. Ranges are read after the
 * batch that carried them was decoded (by the processors, in the same turn of the event loop), so
 * a file is closed only on the next turn once its sendfile is over.
 */
export class OpenFileReader implements RangeReader {
  private fd = -1;
  private owner: ReadOwner | undefined;
  private closeQueued = false;

  read(owner: ReadOwner, path: string, offset: number, length: number): Buffer | null {
    try {
      if (this.owner !== owner) {
        this.close();
        this.fd = fs.openSync(path, 'r');
        this.owner = owner;
        this.closeWhenOver();
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

  release(owner: ReadOwner): void {
    if (owner === this.owner) this.closeWhenOver();
  }

  /** On the next turn of the event loop (the batch's reads done), closes the file if its sendfile is over. */
  private closeWhenOver(): void {
    if (this.closeQueued) return;
    this.closeQueued = true;
    setImmediate(() => {
      this.closeQueued = false;
      if (this.owner?.over === true) this.close();
    });
  }

  private close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.owner = undefined;
  }
}

/**
 * A sendfile whose bytes may still arrive (stream offsets [offset, end)): the reader of its file
 * range that the gaps of its bytes carry.
 */
class FileSend implements FileRangeReader, ReadOwner {
  end: number;
  over = false;

  constructor(
    readonly start: FileSendStart,
    private readonly joiner: FileSendJoiner,
  ) {
    this.end = start.offset + start.bytes;
  }

  read(offset: number, length: number): Buffer {
    return this.joiner.read(this, offset, length);
  }

  giveUp(bytes: number): void {
    this.joiner.stats.unread += bytes;
  }
}

export interface FileSendStats {
  /** sendfile calls seen starting on captured connections. */
  started: number;
  /** Bytes sent from files and handed on as file ranges (joined to their connection). */
  ranges: number;
  /** Of those, bytes read again from the file / that could not be read when needed (a gap). */
  reread: number;
  unread: number;
}

const EMPTY = Buffer.alloc(0);

export class FileSendJoiner implements FileSends {
  /** Per connection (the tcp decoder's key), the latest sendfile: one at a time per socket. */
  private readonly inFlight = new Map<number, FileSend>();
  private readonly fileSources = new Map<string, string>();
  readonly stats: FileSendStats = { started: 0, ranges: 0, reread: 0, unread: 0 };

  constructor(
    /** Bytes read again per read of a range at most (0: name the file, read nothing). */
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
    this.inFlight.set(conn, new FileSend(s, this));
  }

  sent(conn: number, offset: number, bytes: number): void {
    const f = this.inFlight.get(conn);
    if (f?.start.offset !== offset) return;
    if (bytes === 0) this.forget(conn);
    else f.end = offset + bytes;
  }

  fill(conn: number, gap: CaptureChunk): CaptureChunk | null {
    const f = this.inFlight.get(conn);
    if (!f) return null;
    const start = gap.offset;
    const end = start + gap.lostAfter;
    if (start < f.start.offset || end > f.end) {
      if (start >= f.end) this.forget(conn); // its bytes have all gone by
      return null; // not this sendfile's bytes: a gap as the tcp receiver saw it
    }
    if (end === f.end) this.forget(conn);
    this.stats.ranges += gap.lostAfter;
    return {
      ...gap,
      kernelSide: false,
      file: { path: f.start.path, offset: f.start.fileOffset + (start - f.start.offset), reader: f },
      source: this.fileSource(gap.source),
    };
  }

  closed(conn: number): void {
    this.forget(conn);
  }

  /** Bytes of `f`'s file range that the processor needs, read again (at most max_reread_bytes per read). */
  read(f: FileSend, offset: number, length: number): Buffer {
    const want = Math.min(length, this.maxRereadBytes);
    const data = f.start.path && want > 0 ? (this.files.read(f, f.start.path, offset, want) ?? EMPTY) : EMPTY;
    this.stats.reread += data.length;
    this.stats.unread += length - data.length;
    return data;
  }

  private forget(conn: number): void {
    const f = this.inFlight.get(conn);
    if (!f) return;
    this.inFlight.delete(conn);
    f.over = true;
    this.files.release(f);
  }

  /** `tcp/syscalls` → `tcp/syscalls+file`, the same string on every chunk. */
  private fileSource(source: string): string {
    let s = this.fileSources.get(source);
    if (s === undefined) this.fileSources.set(source, (s = `${source}+file`));
    return s;
  }
}
