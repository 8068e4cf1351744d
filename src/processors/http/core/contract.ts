// The contract between the http processor's connection tracking (core/) and the protocols
// (h1/, h2/, registered in protocols.ts). Interfaces only; see README.md "The contract".
//
// The processor reassembles each connection's two byte streams (reassembly.ts) and hands
// contiguous data, gaps and the close to a ProtocolHandler. Which handler runs is decided by
// content, never by port: each ProtocolDetector looks at the first bytes of a direction and says
// 'match', 'no' or 'more' (needs more bytes). Handlers produce HttpExchange records
// (model/exchange.ts), which the processor turns into spans (spans/).

import type { ConnectionMeta, Direction, FileOrigin } from '../../../core/types';
import type { HttpExchange, HttpMessage, IncompleteReason } from '../model/exchange';
import type { SpanContributor } from '../spans/contributor';
import type { Counters } from './counters';

/** Limits and options the handlers need (a subset of the processor config). */
export interface HandlerLimits {
  captureBodies: boolean;
  maxBodyBytes: number;
  /** Keep JSON/SSE bodies of POST exchanges for span processors (span.internal), up to maxInspectBytes. */
  inspectBodies: boolean;
  maxInspectBytes: number;
  /** Lower-case header names to capture as http.request.header.* / http.response.header.* (empty: none). */
  captureHeaders: ReadonlySet<string>;
  maxHeaderBytes: number;
  maxPendingRequests: number;
}

/** What a protocol handler gets from the processor for one connection. */
export interface HandlerContext {
  readonly meta: ConnectionMeta;
  readonly limits: HandlerLimits;
  readonly stats: Counters;
  /** pid/comm of the latest chunk of the connection (the owning process). */
  readonly pid: number;
  readonly comm: string;
  /** A settled exchange; called at most once per exchange. */
  emit(ex: HttpExchange): void;
  /**
   * The registered protocol that takes a connection over with one of the HTTP/1 `Upgrade` tokens
   * in `upgradeTo` (h2c), as a function creating its handler; null when none does (the
   * connection becomes a tunnel, not parsed). Absent: no protocol takes connections over.
   */
  takeOver?(upgradeTo: string): ((h: Handover) => ProtocolHandler) | null;
}

/** A connection handed from one protocol to another (HTTP/1 101 Switching Protocols). */
export interface Handover {
  /** The direction carrying requests. */
  clientDir: Direction;
  /** The request that asked for the switch: the new protocol answers it (h2c: on stream 1). */
  request: HttpMessage;
}

/**
 * How bytes handed to a handler bypassed user memory, when they did: sent from a file
 * (sendfile; `offset` is the file offset of the first byte), or, for a gap, moved kernel-side
 * (splice, vmsplice/tee: out of reach by design, not lost by the collector).
 */
export type ByteOrigin = FileOrigin | 'kernel_side';

/** Parses one connection's traffic in one protocol. Never throws on bad input. */
export interface ProtocolHandler {
  readonly protocol: string;
  /** True when the connection stopped being parseable as this protocol (upgrade, tunnel). */
  readonly done: boolean;
  /**
   * Contiguous bytes of `dir`; `offset`: the stream offset of data[0] (-1 when not known); `file`:
   * they were sent from this file (data[0] at file.offset).
   */
  onData(dir: Direction, data: Buffer, time: bigint, offset: number, file?: FileOrigin): void;
  /**
   * `bytes` bytes of `dir` were not captured; `time` is the timestamp of the last chunk before
   * them; `origin`: why, when they bypassed user memory (the first at file.offset). 'skipped':
   * not captured on purpose because nothing needs their content (a file range left unread, which
   * bytesNeeded allowed): accounted as skipped body bytes, not lost.
   */
  onGap(dir: Direction, bytes: number, time: bigint, reason: 'gap' | 'truncated' | 'skipped', origin?: ByteOrigin): void;
  /**
   * Of the next `bytes` bytes of `dir` (a file range not read yet), how many, from the first, it
   * must see as data; the others it can take as a 'skipped' gap right after them (body bytes that
   * are neither kept nor scanned, within the message's known extent). Absent: all of them.
   */
  bytesNeeded?(dir: Direction, bytes: number): number;
  /** The socket closed: finish close-delimited messages, settle everything else as 'closed'. */
  onClose(): void;
  /** Forced end (eviction, idle, shutdown): settle everything in flight with `reason`. */
  flush(reason: IncompleteReason): void;
  /** Bytes currently held (headers being assembled, paused data, captured bodies). */
  bufferedBytes(): number;
}

export type DetectResult = 'match' | 'no' | 'more';

export interface ProtocolDetector {
  readonly protocol: string;
  /**
   * The detector decides on complete lines (HTTP/1): while only such detectors want more bytes, the
   * processor waits for a line feed before asking again. Binary detectors leave it unset.
   */
  readonly lineBased?: boolean;
  /** Looks at bytes from the start of a message boundary candidate of one direction. */
  detect(dir: Direction, data: Buffer): DetectResult;
  /**
   * Creates the handler; `dir`/`data` are what matched (the handler is then fed `data`).
   * `fromStart`: the connection was seen from its handshake and nothing of it was dropped before
   * the match, so each direction is handed over from its first byte.
   */
  create(ctx: HandlerContext, dir: Direction, data: Buffer, fromStart: boolean): ProtocolHandler;
}

/** A protocol as the processor knows it: one folder, one line in protocols.ts. */
export interface Protocol {
  readonly name: string;
  detector(limits: HandlerLimits): ProtocolDetector;
  /** HTTP/1 `Upgrade` tokens (lower case) with which this protocol takes a connection over. */
  readonly upgradeTokens?: readonly string[];
  /** Creates the handler that takes a connection over after the switch (see Handover). */
  takeOver?(ctx: HandlerContext, h: Handover): ProtocolHandler;
  /** What this protocol adds to spans, in order. */
  readonly spans?: readonly SpanContributor[];
}
