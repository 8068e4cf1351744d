// Reassembly of one direction's byte stream from CaptureChunks, by byte offset.
//
// Chunks at the expected offset are delivered at once. Chunks ahead of it wait in a small
// sorted window (REORDER_MAX_CHUNKS / REORDER_MAX_BYTES) for the missing bytes; the hole is
// declared a gap when the window overflows, on close/flush, and (decided by the processor) when
// the other direction moves past the held chunks' time or the hole outlives the next batch. Overlapping chunks are trimmed,
// chunks entirely before the expected offset (duplicates, or stragglers after their hole was
// declared a gap) are dropped and counted. chunk.lostAfter is a gap right away ('truncated'), or,
// for a file range not read yet (file.reader), a 'skipped' one that the connection reads when
// someone needs its bytes (not a loss, not counted as a gap).

import type { CaptureChunk, Direction, FileOrigin } from '../../../core/types';
import type { ByteOrigin } from './contract';
import type { Counters } from './counters';

export const REORDER_MAX_CHUNKS = 32;
export const REORDER_MAX_BYTES = 256 * 1024;

export interface StreamSink {
  /** `file`: the bytes were sent from this file, data[0] from file.offset (sendfile). */
  data(dir: Direction, data: Buffer, time: bigint, file?: FileOrigin): void;
  /**
   * `origin`: the missing bytes were sent from a file (the first from its offset), or moved
   * kernel-side. 'skipped': a file range not read yet (origin.reader reads it).
   */
  gap(dir: Direction, bytes: number, time: bigint, reason: 'gap' | 'truncated' | 'skipped', origin?: ByteOrigin): void;
}

export class DirStream {
  /**
   * Offset of the next byte expected. Offsets count from the first byte the collector could see,
   * so a stream starts at 0; a first chunk further on waits like any chunk behind a hole (a
   * connection seen again after its state was dropped then starts with a 'gaps.leading').
   */
  next = 0;
  private delivered = false;
  /** Timestamp of the latest chunk delivered. */
  lastTime = 0n;
  private pend: CaptureChunk[] = [];
  private pendBytes = 0;
  /** Batch number in which the oldest held chunk started waiting. */
  holdEpoch = 0;

  constructor(
    readonly dir: Direction,
    private readonly stats: Counters,
  ) {}

  get bufferedBytes(): number {
    return this.pendBytes;
  }

  get holding(): boolean {
    return this.pend.length > 0;
  }

  /** Timestamp of the first held chunk (call only when holding). */
  get heldTime(): bigint {
    return this.pend[0]!.timeUnixNano;
  }

  /** Returns true when the chunk was held (it is ahead of the stream). */
  push(c: CaptureChunk, sink: StreamSink, epoch = 0): boolean {
    if (c.offset > this.next) {
      // Ahead of the stream: wait (bounded) for the bytes in between.
      if (this.pend.length === 0) this.holdEpoch = epoch;
      let i = this.pend.length;
      while (i > 0 && this.pend[i - 1]!.offset > c.offset) i--;
      this.pend.splice(i, 0, c);
      this.pendBytes += c.data.length;
      this.stats.add('chunks.out_of_order');
      while (this.pend.length > REORDER_MAX_CHUNKS || this.pendBytes > REORDER_MAX_BYTES) this.skipHole(sink);
      return this.pend.length > 0;
    }
    this.deliver(c, sink);
    this.drain(sink);
    return false;
  }

  /** Declares every remaining hole a gap and delivers what waits behind them (close, flush). */
  flush(sink: StreamSink): void {
    while (this.pend.length > 0) this.skipHole(sink);
  }

  /** Drops what waits (the connection is discarded). */
  clear(): void {
    this.pend = [];
    this.pendBytes = 0;
  }

  private skipHole(sink: StreamSink): void {
    const c = this.pend[0]!;
    if (c.offset > this.next) {
      const bytes = c.offset - this.next;
      if (this.delivered) {
        this.stats.add('gaps');
        this.stats.add('gaps.bytes', bytes);
      } else this.stats.add('gaps.leading');
      this.next = c.offset;
      sink.gap(this.dir, bytes, this.lastTime, 'gap');
    }
    this.drain(sink);
  }

  private drain(sink: StreamSink): void {
    while (this.pend.length > 0 && this.pend[0]!.offset <= this.next) {
      const c = this.pend.shift()!;
      this.pendBytes -= c.data.length;
      this.deliver(c, sink);
    }
  }

  private deliver(c: CaptureChunk, sink: StreamSink): void {
    const end = c.offset + c.data.length;
    const lostEnd = end + c.lostAfter;
    if (lostEnd <= this.next) {
      this.stats.add('chunks.late');
      return;
    }
    if (end > this.next) {
      const skip = this.next - c.offset;
      this.lastTime = c.timeUnixNano;
      this.next = end;
      this.delivered = true;
      sink.data(this.dir, skip > 0 ? c.data.subarray(skip) : c.data, c.timeUnixNano, fileFrom(c, skip));
    }
    if (c.lostAfter > 0 && lostEnd > this.next) {
      const bytes = lostEnd - this.next;
      const origin = c.kernelSide === true ? 'kernel_side' : fileFrom(c, this.next - c.offset);
      const unread = origin !== 'kernel_side' && origin?.reader !== undefined;
      if (!unread) {
        this.stats.add('gaps');
        this.stats.add('gaps.bytes', bytes);
      }
      this.lastTime = c.timeUnixNano;
      this.next = lostEnd;
      sink.gap(this.dir, bytes, c.timeUnixNano, unread ? 'skipped' : 'truncated', origin);
    }
  }
}

/** The file origin of a chunk's bytes from `skip` on (trimmed overlaps move it; a range not read yet keeps its reader). */
function fileFrom(c: CaptureChunk, skip: number): FileOrigin | undefined {
  const f = c.file;
  return f === undefined || skip === 0 ? f : { ...f, offset: f.offset + skip };
}
