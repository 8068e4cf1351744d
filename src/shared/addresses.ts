// Turning the kernel's 16-byte address fields into text, and text (config) into bytes.
import * as net from 'node:net';

/** Formats 16 bytes at `off` as an IP address; IPv4-mapped IPv6 (::ffff:a.b.c.d) reads as IPv4. */
export function formatAddress(buf: Buffer, off: number, family: number): string {
  if (family === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (buf[off + i] !== 0) mapped = false;
  if (mapped) return `${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(off + 2 * i));
  // RFC 5952: compress the longest run (length >= 2) of zero words.
  let bestStart = -1,
    bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** True when the 16 address bytes are IPv4-mapped. */
export function isMapped(buf: Buffer, off: number): boolean {
  for (let i = 0; i < 10; i++) if (buf[off + i] !== 0) return false;
  return buf[off + 10] === 0xff && buf[off + 11] === 0xff;
}

/** IP text → 16 bytes, IPv4 as IPv4-mapped. Returns null for anything that is not an IP. */
export function addressBytes(text: string): Buffer | null {
  const kind = net.isIP(text);
  const out = Buffer.alloc(16);
  if (kind === 4) {
    out[10] = 0xff;
    out[11] = 0xff;
    text.split('.').forEach((p, i) => (out[12 + i] = Number(p)));
    return out;
  }
  if (kind !== 6) return null;
  // Expand "::" and an embedded dotted quad, then write the eight words.
  let s = text;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const b = dotted[1]!.split('.').map(Number);
    s = s.slice(0, dotted.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const words = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  words.forEach((w, i) => out.writeUInt16BE(parseInt(w, 16), 2 * i));
  return out;
}

/** "10.0.0.0/8", "::1", "fd00::/8" → bytes and a prefix length over the IPv4-mapped form. */
export function parseCidr(text: string): { addr: Buffer; prefix: number } | null {
  const [ip, bits] = text.split('/');
  const addr = addressBytes(ip ?? '');
  if (!addr) return null;
  const v4 = net.isIP(ip!) === 4;
  const max = v4 ? 32 : 128;
  const n = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(n) || n < 0 || n > max || (bits !== undefined && !/^\d+$/.test(bits))) return null;
  return { addr, prefix: v4 ? 96 + n : n };
}

/** "127.0.0.1:8080" or "[::1]:8080" → address bytes and port. */
export function parseTarget(text: string): { addr: Buffer; port: number } | null {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) return null;
  const addr = addressBytes(m[1]!);
  const port = Number(m[2]);
  if (!addr || port < 1 || port > 65535) return null;
  return { addr, port };
}
