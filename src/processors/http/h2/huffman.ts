// HPACK Huffman code (RFC 7541 §5.2, Appendix B): a table-driven decoder that consumes four bits
// per step (no per-bit tree walk, no per-byte string building) and an encoder (used by tests and
// by anything that needs to produce HPACK).
//
// The decoder is a finite-state machine over the code tree's 256 internal nodes: for each state
// and input nibble, DECODE_TABLE holds the next state, the symbol emitted (at most one per nibble,
// since the shortest code has 5 bits), whether the path hit EOS or an invalid code (failure), and
// whether the state reached is a valid end (padding: at most 7 bits, all ones).

/** (code, length in bits) for symbols 0..255, RFC 7541 Appendix B. EOS (256) is 0x3fffffff/30. */
// prettier-ignore
const CODES: readonly number[] = [
  0x1ff8, 13, 0x7fffd8, 23, 0xfffffe2, 28, 0xfffffe3, 28, 0xfffffe4, 28, 0xfffffe5, 28, 0xfffffe6, 28, 0xfffffe7, 28,
  0xfffffe8, 28, 0xffffea, 24, 0x3ffffffc, 30, 0xfffffe9, 28, 0xfffffea, 28, 0x3ffffffd, 30, 0xfffffeb, 28, 0xfffffec, 28,
  0xfffffed, 28, 0xfffffee, 28, 0xfffffef, 28, 0xffffff0, 28, 0xffffff1, 28, 0xffffff2, 28, 0x3ffffffe, 30, 0xffffff3, 28,
  0xffffff4, 28, 0xffffff5, 28, 0xffffff6, 28, 0xffffff7, 28, 0xffffff8, 28, 0xffffff9, 28, 0xffffffa, 28, 0xffffffb, 28,
  0x14, 6, 0x3f8, 10, 0x3f9, 10, 0xffa, 12, 0x1ff9, 13, 0x15, 6, 0xf8, 8, 0x7fa, 11,
  0x3fa, 10, 0x3fb, 10, 0xf9, 8, 0x7fb, 11, 0xfa, 8, 0x16, 6, 0x17, 6, 0x18, 6,
  0x0, 5, 0x1, 5, 0x2, 5, 0x19, 6, 0x1a, 6, 0x1b, 6, 0x1c, 6, 0x1d, 6,
  0x1e, 6, 0x1f, 6, 0x5c, 7, 0xfb, 8, 0x7ffc, 15, 0x20, 6, 0xffb, 12, 0x3fc, 10,
  0x1ffa, 13, 0x21, 6, 0x5d, 7, 0x5e, 7, 0x5f, 7, 0x60, 7, 0x61, 7, 0x62, 7,
  0x63, 7, 0x64, 7, 0x65, 7, 0x66, 7, 0x67, 7, 0x68, 7, 0x69, 7, 0x6a, 7,
  0x6b, 7, 0x6c, 7, 0x6d, 7, 0x6e, 7, 0x6f, 7, 0x70, 7, 0x71, 7, 0x72, 7,
  0xfc, 8, 0x73, 7, 0xfd, 8, 0x1ffb, 13, 0x7fff0, 19, 0x1ffc, 13, 0x3ffc, 14, 0x22, 6,
  0x7ffd, 15, 0x3, 5, 0x23, 6, 0x4, 5, 0x24, 6, 0x5, 5, 0x25, 6, 0x26, 6,
  0x27, 6, 0x6, 5, 0x74, 7, 0x75, 7, 0x28, 6, 0x29, 6, 0x2a, 6, 0x7, 5,
  0x2b, 6, 0x76, 7, 0x2c, 6, 0x8, 5, 0x9, 5, 0x2d, 6, 0x77, 7, 0x78, 7,
  0x79, 7, 0x7a, 7, 0x7b, 7, 0x7ffe, 15, 0x7fc, 11, 0x3ffd, 14, 0x1ffd, 13, 0xffffffc, 28,
  0xfffe6, 20, 0x3fffd2, 22, 0xfffe7, 20, 0xfffe8, 20, 0x3fffd3, 22, 0x3fffd4, 22, 0x3fffd5, 22, 0x7fffd9, 23,
  0x3fffd6, 22, 0x7fffda, 23, 0x7fffdb, 23, 0x7fffdc, 23, 0x7fffdd, 23, 0x7fffde, 23, 0xffffeb, 24, 0x7fffdf, 23,
  0xffffec, 24, 0xffffed, 24, 0x3fffd7, 22, 0x7fffe0, 23, 0xffffee, 24, 0x7fffe1, 23, 0x7fffe2, 23, 0x7fffe3, 23,
  0x7fffe4, 23, 0x1fffdc, 21, 0x3fffd8, 22, 0x7fffe5, 23, 0x3fffd9, 22, 0x7fffe6, 23, 0x7fffe7, 23, 0xffffef, 24,
  0x3fffda, 22, 0x1fffdd, 21, 0xfffe9, 20, 0x3fffdb, 22, 0x3fffdc, 22, 0x7fffe8, 23, 0x7fffe9, 23, 0x1fffde, 21,
  0x7fffea, 23, 0x3fffdd, 22, 0x3fffde, 22, 0xfffff0, 24, 0x1fffdf, 21, 0x3fffdf, 22, 0x7fffeb, 23, 0x7fffec, 23,
  0x1fffe0, 21, 0x1fffe1, 21, 0x3fffe0, 22, 0x1fffe2, 21, 0x7fffed, 23, 0x3fffe1, 22, 0x7fffee, 23, 0x7fffef, 23,
  0xfffea, 20, 0x3fffe2, 22, 0x3fffe3, 22, 0x3fffe4, 22, 0x7ffff0, 23, 0x3fffe5, 22, 0x3fffe6, 22, 0x7ffff1, 23,
  0x3ffffe0, 26, 0x3ffffe1, 26, 0xfffeb, 20, 0x7fff1, 19, 0x3fffe7, 22, 0x7ffff2, 23, 0x3fffe8, 22, 0x1ffffec, 25,
  0x3ffffe2, 26, 0x3ffffe3, 26, 0x3ffffe4, 26, 0x7ffffde, 27, 0x7ffffdf, 27, 0x3ffffe5, 26, 0xfffff1, 24, 0x1ffffed, 25,
  0x7fff2, 19, 0x1fffe3, 21, 0x3ffffe6, 26, 0x7ffffe0, 27, 0x7ffffe1, 27, 0x3ffffe7, 26, 0x7ffffe2, 27, 0xfffff2, 24,
  0x1fffe4, 21, 0x1fffe5, 21, 0x3ffffe8, 26, 0x3ffffe9, 26, 0xffffffd, 28, 0x7ffffe3, 27, 0x7ffffe4, 27, 0x7ffffe5, 27,
  0xfffec, 20, 0xfffff3, 24, 0xfffed, 20, 0x1fffe6, 21, 0x3fffe9, 22, 0x1fffe7, 21, 0x1fffe8, 21, 0x7ffff3, 23,
  0x3fffea, 22, 0x3fffeb, 22, 0x1ffffee, 25, 0x1ffffef, 25, 0xfffff4, 24, 0xfffff5, 24, 0x3ffffea, 26, 0x7ffff4, 23,
  0x3ffffeb, 26, 0x7ffffe6, 27, 0x3ffffec, 26, 0x3ffffed, 26, 0x7ffffe7, 27, 0x7ffffe8, 27, 0x7ffffe9, 27, 0x7ffffea, 27,
  0x7ffffeb, 27, 0xffffffe, 28, 0x7ffffec, 27, 0x7ffffed, 27, 0x7ffffee, 27, 0x7ffffef, 27, 0x7fffff0, 27, 0x3ffffee, 26,
];
const EOS_CODE = 0x3fffffff;
const EOS_BITS = 30;

const F_EMIT = 1;
const F_FAIL = 2;
const F_ACCEPT = 4;

/** Per (state, nibble): next state | symbol << 8 | flags << 16. */
const DECODE_TABLE = new Uint32Array(256 * 16);

function build(): void {
  // Code tree: node 0 is the root; child[node*2 + bit]; leaves hold -(symbol + 1).
  const child = new Int32Array(2 * 600).fill(0);
  let nodes = 1;
  const insert = (code: number, bits: number, sym: number): void => {
    let n = 0;
    for (let i = bits - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) % 2; // codes reach 30 bits: avoid 32-bit shifts on sign
      const slot = n * 2 + bit;
      if (i === 0) {
        child[slot] = -(sym + 1);
      } else {
        if (child[slot] === 0) child[slot] = nodes++;
        n = child[slot]!;
      }
    }
  };
  for (let s = 0; s < 256; s++) insert(CODES[2 * s]!, CODES[2 * s + 1]!, s);
  insert(EOS_CODE, EOS_BITS, 256);
  // Depth and "all ones" (a valid padding prefix) of each internal node.
  const depth = new Int32Array(nodes);
  const ones = new Uint8Array(nodes);
  ones[0] = 1;
  for (let n = 0; n < nodes; n++) {
    for (let bit = 0; bit < 2; bit++) {
      const c = child[n * 2 + bit]!;
      if (c > 0) {
        depth[c] = depth[n]! + 1;
        ones[c] = ones[n]! === 1 && bit === 1 ? 1 : 0;
      }
    }
  }
  for (let state = 0; state < nodes; state++) {
    for (let nib = 0; nib < 16; nib++) {
      let n = state;
      let flags = 0;
      let sym = 0;
      for (let i = 3; i >= 0; i--) {
        const c = child[n * 2 + ((nib >> i) & 1)]!;
        if (c < 0) {
          const s = -c - 1;
          if (s === 256) {
            flags |= F_FAIL;
            break;
          }
          flags |= F_EMIT;
          sym = s;
          n = 0;
        } else if (c === 0) {
          flags |= F_FAIL; // cannot happen with a complete code; kept for safety
          break;
        } else n = c;
      }
      if ((flags & F_FAIL) === 0 && ones[n] === 1 && depth[n]! <= 7) flags |= F_ACCEPT;
      DECODE_TABLE[state * 16 + nib] = n | (sym << 8) | (flags << 16);
    }
  }
}
build();

let scratch = Buffer.allocUnsafe(4096);

/**
 * Decodes src[from..to) into a latin1 string (each byte one char). Returns null when the input is
 * not a valid Huffman string (EOS inside, padding longer than 7 bits or not all ones).
 */
export function huffmanDecode(src: Buffer, from: number, to: number): string | null {
  const max = Math.ceil(((to - from) * 8) / 5) + 1; // shortest code: 5 bits
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max, scratch.length * 2));
  const out = scratch;
  let o = 0;
  let state = 0;
  let accept = true;
  for (let i = from; i < to; i++) {
    const b = src[i]!;
    let e = DECODE_TABLE[(state << 4) | (b >> 4)]!;
    let f = e >>> 16;
    if ((f & F_FAIL) !== 0) return null;
    if ((f & F_EMIT) !== 0) out[o++] = (e >> 8) & 0xff;
    state = e & 0xff;
    e = DECODE_TABLE[(state << 4) | (b & 15)]!;
    f = e >>> 16;
    if ((f & F_FAIL) !== 0) return null;
    if ((f & F_EMIT) !== 0) out[o++] = (e >> 8) & 0xff;
    state = e & 0xff;
    accept = (f & F_ACCEPT) !== 0;
  }
  if (!accept) return null;
  return out.toString('latin1', 0, o);
}

/** Length in bytes of the Huffman encoding of a latin1 string. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += CODES[2 * (s.charCodeAt(i) & 0xff) + 1]!;
  return Math.ceil(bits / 8);
}

/** Huffman-encodes a latin1 string (padding with the EOS prefix). */
export function huffmanEncode(s: string): Buffer {
  const out = Buffer.allocUnsafe(huffmanLength(s));
  let acc = 0; // pending bits (fewer than 8 after each flush)
  let nbits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff;
    let code = CODES[2 * c]!;
    let len = CODES[2 * c + 1]!;
    // Feed the code in pieces of at most 16 bits so the accumulator stays under 2^31.
    while (len > 0) {
      const take = Math.min(len, 16);
      const piece = Math.floor(code / 2 ** (len - take)) & ((1 << take) - 1);
      acc = (acc << take) | piece;
      nbits += take;
      len -= take;
      code = code % 2 ** len;
      while (nbits >= 8) {
        nbits -= 8;
        out[o++] = (acc >> nbits) & 0xff;
      }
      acc &= (1 << nbits) - 1;
    }
  }
  if (nbits > 0) out[o++] = ((acc << (8 - nbits)) | (0xff >> nbits)) & 0xff;
  return out;
}
