// Text appended as UTF-8 into large Buffers. For output that waits before it is written (the
// file exporter's lines): the pieces of text die young, and what waits lives outside the V8
// heap, so the garbage collector neither copies nor marks it.

/** Size of one chunk; texts larger than this get a Buffer of their own. */
const CHUNK_BYTES = 1 << 20;
/** Written chunks kept for reuse (their pages are already faulted in). */
const SPARE_CHUNKS = 4;

export class Utf8Chunks {
  private full: Buffer[] = [];
  private current: Buffer | undefined;
  private used = 0;
  private fullBytes = 0;
  private readonly spare: Buffer[] = [];

  /** Bytes appended and not yet taken. */
  get byteLength(): number {
    return this.fullBytes + this.used;
  }

  append(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8 (a surrogate pair: 4 for 2 units).
    const worst = text.length * 3;
    if (worst > CHUNK_BYTES) {
      this.seal();
      this.push(Buffer.from(text, 'utf8'));
      return;
    }
    if (this.current === undefined || this.used + worst > this.current.length) {
      this.seal();
      this.current = this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
    }
    this.used += this.current.write(text, this.used, 'utf8');
  }

  /** Everything appended so far, in order; the caller owns the Buffers until it gives them back. */
  take(): Buffer[] {
    this.seal();
    const out = this.full;
    this.full = [];
    this.fullBytes = 0;
    return out;
  }

  /** Written Buffers from take(): full-size ones are reused. */
  giveBack(buffers: Buffer[]): void {
    for (const b of buffers) {
      if (this.spare.length >= SPARE_CHUNKS) return;
      if (b.byteOffset === 0 && b.buffer.byteLength === CHUNK_BYTES) this.spare.push(Buffer.from(b.buffer, 0, CHUNK_BYTES));
    }
  }

  private seal(): void {
    if (this.current !== undefined && this.used > 0) this.push(this.current.subarray(0, this.used));
    else if (this.current !== undefined) this.spare.push(this.current);
    this.current = undefined;
    this.used = 0;
  }

  private push(b: Buffer): void {
    this.full.push(b);
    this.fullBytes += b.length;
  }
}
