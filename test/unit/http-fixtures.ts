// Shared helpers for the http processor tests (not a test file itself).

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/core/logger';
import type { CaptureChunk, ConnectionMeta, Direction, SpanConsumer, SpanRecord } from '../../src/core/types';
import { httpProcessorFactory, HttpProcessor, type HttpProcessorConfig } from '../../src/processors/http';

/** Deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fake /proc with one process: pid 4242, `/usr/bin/python3 app.py --port 8080`. */
export const FAKE_PID = 4242;
let procRoot: string | undefined;
export function fakeProc(): string {
  if (procRoot !== undefined) return procRoot;
  procRoot = mkdtempSync(join(tmpdir(), 'tcpsniff-proc-'));
  mkdirSync(join(procRoot, String(FAKE_PID)));
  writeFileSync(join(procRoot, String(FAKE_PID), 'cmdline'), 'python3\0app.py\0--port\x008080\0');
  symlinkSync('/usr/bin/python3.11', join(procRoot, String(FAKE_PID), 'exe'));
  return procRoot;
}

export const quietLogger = createLogger('error', 'test', () => {});

export interface Harness {
  proc: HttpProcessor;
  /** Every batch handed to consumeSpans. */
  batches: SpanRecord[][];
  spans: () => SpanRecord[];
}

/** `bodiesReadBy`: span processors downstream that read bodies (as the service tells it); `next`: instead of the batches. */
export function makeProcessor(raw: Record<string, unknown> = {}, bodiesReadBy: string[] = [], next?: SpanConsumer): Harness {
  const cfg: HttpProcessorConfig = httpProcessorFactory.parseConfig(raw, 'processors::http');
  const batches: SpanRecord[][] = [];
  next ??= { consumeSpans: (s) => void batches.push(s) };
  const proc = new HttpProcessor(cfg, { id: 'http', logger: quietLogger, bodiesReadBy }, next, { procRoot: fakeProc() });
  return { proc, batches, spans: () => batches.flat() };
}

export const SERVER_META: ConnectionMeta = {
  connId: 'srv-1',
  family: 4,
  localAddr: '10.0.0.1',
  localPort: 8080,
  remoteAddr: '10.0.0.2',
  remotePort: 51000,
  role: 'server',
};

export const CLIENT_META: ConnectionMeta = {
  connId: 'cli-1',
  family: 4,
  localAddr: '10.0.0.2',
  localPort: 51000,
  remoteAddr: '10.0.0.1',
  remotePort: 8080,
  role: 'client',
};

/** Builds the chunks of one connection, tracking offsets per direction. */
export class Conn {
  private off: Record<Direction, number> = { egress: 0, ingress: 0 };
  constructor(
    readonly meta: ConnectionMeta,
    readonly pid = FAKE_PID,
    readonly comm = 'python3',
  ) {}

  /** A data chunk at the current offset (time in ns). */
  data(direction: Direction, payload: string | Buffer, time: bigint, lostAfter = 0): CaptureChunk {
    const data = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const c: CaptureChunk = {
      kind: 'data',
      conn: this.meta,
      direction,
      offset: this.off[direction],
      data,
      lostAfter,
      timeUnixNano: time,
      pid: this.pid,
      tid: this.pid,
      comm: this.comm,
      source: 'test',
    };
    this.off[direction] += data.length + lostAfter;
    return c;
  }

  /** Advances a direction's offset without a chunk (bytes lost in transit: a hole). */
  skip(direction: Direction, bytes: number): void {
    this.off[direction] += bytes;
  }

  close(time: bigint): CaptureChunk {
    return { ...this.data('egress', Buffer.alloc(0), time), kind: 'close' };
  }
}
