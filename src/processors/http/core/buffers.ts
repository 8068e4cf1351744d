/**
 * Appends data[from..to) to `buf` (holding `len` bytes), growing it by doubling up to `cap`
 * bytes; returns the buffer to keep. Linear overall, whatever the size of the pieces.
 */
export function appendGrow(buf: Buffer | null, len: number, data: Buffer, from: number, to: number, cap: number): Buffer {
  const need = len + (to - from);
  if (buf === null || buf.length < need) {
    const grown = Buffer.allocUnsafe(Math.max(need, Math.min(2 * (buf?.length ?? 256), cap)));
    if (buf !== null) buf.copy(grown, 0, 0, len);
    buf = grown;
  }
  data.copy(buf, len, from, to);
  return buf;
}
