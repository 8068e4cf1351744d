// How a protocol adds to the spans of its exchanges. buildSpan (build.ts) sets the HTTP
// attributes every protocol shares; each registered protocol's contributors then add their own
// (h2/spans.ts: tcpsniff.h2.* and gRPC's rpc.*), so span building knows no protocol.

import type { Attributes, SpanRecord } from '../../../core/types';
import type { HttpExchange } from '../model/exchange';

/** The span being built, as contributors may change it. */
export interface SpanDraft {
  /** The span name (the method; the owner of the span sets its own). */
  name: string;
  attrs: Attributes;
  events: SpanRecord['events'];
  /** Set by the owner: error.type of a complete exchange, null when it is not an error. */
  error: string | null;
  /** The stream the exchange travelled on, for trace_links (SpanRecord.internal.link.h2StreamId); -1: none. */
  streamId: number;
}

export interface SpanContributor {
  /**
   * The exchange is a call of this protocol's own (gRPC): the span gets no http.* / url.*
   * attributes and no HTTP status rule; the contributor names it and sets `error`.
   */
  owns?(ex: HttpExchange): boolean;
  /** Adds what this protocol knows of the exchange (nothing when the exchange is not its own). */
  contribute(ex: HttpExchange, span: SpanDraft): void;
}
