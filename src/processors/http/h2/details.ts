// What HTTP/2 and gRPC add to an exchange (model/exchange.ts ExchangeDetails), read by their
// span contributors (h2/spans.ts).

import type { GrpcFramer } from './grpc';

/** What an HTTP/2 stream adds to an exchange (h2/spans.ts turns it into tcpsniff.h2.* attributes). */
export interface H2Info {
  streamId: number;
  /** Header fields that referred to dynamic-table entries the decoder never saw. */
  unknownHeaders: number;
  /** Their markers (at most MAX_UNKNOWN_MARKERS). */
  unknownFields: string[];
  /** Never-indexed fields (values are never exported). */
  sensitiveHeaders: number;
  /** RST_STREAM error code, when the stream was reset. */
  resetCode?: number;
  /** GOAWAY error code, when a GOAWAY cut the stream. */
  goawayCode?: number;
}

/** gRPC call details (h2/spans.ts turns them into rpc.* attributes). */
export interface GrpcInfo {
  service: string;
  method: string;
  /** grpc-status from trailers (or a trailers-only response); null when not seen. */
  status: number | null;
  request: GrpcFramer;
  response: GrpcFramer;
  /** Recognised by its message framing: its content-type referred to a table entry never seen. */
  byFraming: boolean;
}

declare module '../model/exchange' {
  interface ExchangeDetails {
    h2: H2Info;
    grpc: GrpcInfo;
  }
}
