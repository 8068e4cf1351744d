// HTTP/2 test helpers (not a test file): an HPACK encoder, frame builders, and a recording TCP
// proxy that captures both directions of real connections (Node http2, grpc-js) in-process, so
// unit tests can replay real traffic through the processor.

import * as net from 'node:net';
import { STATIC_TABLE, encodeInt } from '../../../src/processors/http/h2/hpack';
import { huffmanEncode, huffmanLength } from '../../../src/processors/http/h2/huffman';
import type { CaptureChunk, ConnectionMeta, Direction } from '../../../src/core/types';

export type Mode = 'index' | 'noindex' | 'never';

/** A small HPACK encoder with a dynamic table (enough to drive the decoder in tests). */
export class HpackEncoder {
  private table: Array<[string, string]> = []; // newest first
  private size = 0;
  maxSize = 4096;
  huffman = true;

  private str(out: number[], s: string): void {
    const h = this.huffman && huffmanLength(s) < s.length;
    const bytes = h ? huffmanEncode(s) : Buffer.from(s, 'latin1');
    encodeInt(out, bytes.length, 7, h ? 0x80 : 0);
    for (const b of bytes) out.push(b);
  }

  private find(name: string, value: string): { full: number; name: number } {
    let nameIdx = 0;
    for (let i = 0; i < STATIC_TABLE.length; i++) {
      const [n, v] = STATIC_TABLE[i]!;
      if (n === name) {
        if (v === value) return { full: i + 1, name: i + 1 };
        if (nameIdx === 0) nameIdx = i + 1;
      }
    }
    for (let i = 0; i < this.table.length; i++) {
      const [n, v] = this.table[i]!;
      if (n === name) {
        if (v === value) return { full: STATIC_TABLE.length + 1 + i, name: nameIdx || STATIC_TABLE.length + 1 + i };
        if (nameIdx === 0) nameIdx = STATIC_TABLE.length + 1 + i;
      }
    }
    return { full: 0, name: nameIdx };
  }

  private add(name: string, value: string): void {
    const sz = name.length + value.length + 32;
    this.table.unshift([name, value]);
    this.size += sz;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.table.length > 0) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }

  /** A dynamic table size update (at the start of a block). */
  sizeUpdate(out: number[], n: number): void {
    this.maxSize = n;
    this.evict();
    encodeInt(out, n, 5, 0x20);
  }

  encode(fields: Array<[string, string] | [string, string, Mode]>, prefix?: (out: number[]) => void): Buffer {
    const out: number[] = [];
    prefix?.(out);
    for (const f of fields) {
      const [name, value] = f;
      const mode = f[2] ?? 'index';
      const idx = this.find(name, value);
      if (idx.full > 0 && mode === 'index') {
        encodeInt(out, idx.full, 7, 0x80);
        continue;
      }
      const [bits, first] = mode === 'index' ? [6, 0x40] : mode === 'never' ? [4, 0x10] : [4, 0x00];
      encodeInt(out, idx.name, bits, first);
      if (idx.name === 0) this.str(out, name);
      this.str(out, value);
      if (mode === 'index') this.add(name, value);
    }
    return Buffer.from(out);
  }
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([h, payload]);
}

export function settings(pairs: Array<[number, number]> = [], ack = false): Buffer {
  const p = Buffer.alloc(pairs.length * 6);
  pairs.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(4, ack ? 1 : 0, 0, p);
}

/** gRPC length-prefixed message. */
export function grpcMessage(payload: Buffer, compressed = false): Buffer {
  const h = Buffer.alloc(5);
  h[0] = compressed ? 1 : 0;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

export interface Recorded {
  /** Bytes in the order they crossed the proxy, per direction: c2s = client to server. */
  events: Array<{ dir: 'c2s' | 's2c'; data: Buffer; t: number }>;
}

/** A TCP proxy on 127.0.0.1 in front of targetPort that records every connection. */
export async function recordingProxy(targetPort: number): Promise<{ port: number; conns: Recorded[]; close: () => Promise<void> }> {
  const conns: Recorded[] = [];
  const sockets = new Set<net.Socket>();
  let seq = 0;
  const server = net.createServer((client) => {
    const rec: Recorded = { events: [] };
    conns.push(rec);
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d) => {
      rec.events.push({ dir: 'c2s', data: Buffer.from(d), t: seq++ });
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      rec.events.push({ dir: 's2c', data: Buffer.from(d), t: seq++ });
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * Turns a recorded connection into capture chunks as seen by one process: the client process
 * (egress = c2s) or the server process (egress = s2c). Times are 1 ms apart in recording order.
 */
export function chunksOf(rec: Recorded, side: 'client' | 'server', meta: ConnectionMeta, base = 1_700_000_000_000_000_000n): CaptureChunk[] {
  const off: Record<Direction, number> = { egress: 0, ingress: 0 };
  return rec.events.map((e) => {
    const direction: Direction = (e.dir === 'c2s') === (side === 'client') ? 'egress' : 'ingress';
    const c: CaptureChunk = {
      kind: 'data',
      conn: meta,
      direction,
      offset: off[direction],
      data: e.data,
      lostAfter: 0,
      timeUnixNano: base + BigInt(e.t) * 1_000_000n,
      pid: 4242,
      tid: 4242,
      comm: 'python3',
      source: 'test',
    };
    off[direction] += e.data.length;
    return c;
  });
}
