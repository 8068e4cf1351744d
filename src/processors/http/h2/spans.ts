// What HTTP/2 and gRPC add to spans (registered with the protocol in h2/index.ts).

import type { Attributes, SpanRecord } from '../../../core/types';
import type { SpanContributor } from '../spans/contributor';
import type {} from './details';
import { H2_ERROR_NAMES } from './frames';
import { GRPC_STATUS_NAMES, grpcIsError, grpcStatusFromHttp, type GrpcFramer } from './grpc';

// HTTP/2 (documented in README.md).
export const ATTR_H2_STREAM_ID = 'tcpsniff.h2.stream_id';
export const ATTR_H2_UNKNOWN_HEADERS = 'tcpsniff.h2.unknown_headers';
export const ATTR_H2_UNKNOWN_FIELDS = 'tcpsniff.h2.unknown_fields';
export const ATTR_H2_SENSITIVE_HEADERS = 'tcpsniff.h2.sensitive_headers';
export const ATTR_H2_RESET_CODE = 'tcpsniff.h2.reset_code';
export const ATTR_H2_RESET_ERROR = 'tcpsniff.h2.reset_error';
export const ATTR_H2_GOAWAY_CODE = 'tcpsniff.h2.goaway_code';

// RPC semantic conventions. Stable (semantic-conventions 1.45 stable_attributes):
export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name';
export const ATTR_RPC_METHOD = 'rpc.method'; // fully qualified: "package.Service/Method"
export const ATTR_RPC_STATUS_CODE = 'rpc.status_code'; // string: "OK", "NOT_FOUND"...
// Deprecated experimental names, still read by many backends (emitted alongside, like rpc/dup):
export const ATTR_RPC_SYSTEM = 'rpc.system';
export const ATTR_RPC_SERVICE = 'rpc.service';
export const ATTR_RPC_GRPC_STATUS_CODE = 'rpc.grpc.status_code'; // int
// Message events (experimental rpc.message.* attributes):
export const EVENT_RPC_MESSAGE = 'rpc.message';
export const ATTR_RPC_MESSAGE_TYPE = 'rpc.message.type';
export const ATTR_RPC_MESSAGE_ID = 'rpc.message.id';
export const ATTR_RPC_MESSAGE_COMPRESSED_SIZE = 'rpc.message.compressed_size';
export const ATTR_RPC_MESSAGE_UNCOMPRESSED_SIZE = 'rpc.message.uncompressed_size';
// This project's gRPC message counters (documented in README.md).
export const ATTR_GRPC_REQUEST_MESSAGES = 'rpc.grpc.request.message_count';
export const ATTR_GRPC_RESPONSE_MESSAGES = 'rpc.grpc.response.message_count';
export const ATTR_GRPC_REQUEST_BYTES = 'rpc.grpc.request.message_bytes';
export const ATTR_GRPC_RESPONSE_BYTES = 'rpc.grpc.response.message_bytes';
export const ATTR_GRPC_REQUEST_COMPRESSED = 'rpc.grpc.request.compressed_message_count';
export const ATTR_GRPC_RESPONSE_COMPRESSED = 'rpc.grpc.response.compressed_message_count';
export const ATTR_GRPC_REQUEST_FRAMING_LOST = 'tcpsniff.grpc.request.framing_lost';
export const ATTR_GRPC_RESPONSE_FRAMING_LOST = 'tcpsniff.grpc.response.framing_lost';
export const ATTR_GRPC_RECOGNIZED_BY = 'tcpsniff.grpc.recognized_by';

/** tcpsniff.h2.* for exchanges that travelled on an HTTP/2 stream. */
export const h2Spans: SpanContributor = {
  contribute(ex, span) {
    const h2 = ex.details.h2;
    if (h2 === undefined) return;
    span.streamId = h2.streamId;
    span.attrs[ATTR_H2_STREAM_ID] = h2.streamId;
    if (h2.unknownHeaders > 0) span.attrs[ATTR_H2_UNKNOWN_HEADERS] = h2.unknownHeaders;
    if (h2.unknownFields.length > 0) span.attrs[ATTR_H2_UNKNOWN_FIELDS] = h2.unknownFields;
    if (h2.sensitiveHeaders > 0) span.attrs[ATTR_H2_SENSITIVE_HEADERS] = h2.sensitiveHeaders;
    if (h2.resetCode !== undefined && h2.resetCode >= 0) {
      span.attrs[ATTR_H2_RESET_CODE] = h2.resetCode;
      span.attrs[ATTR_H2_RESET_ERROR] = H2_ERROR_NAMES[h2.resetCode] ?? 'UNKNOWN';
    }
    if (h2.goawayCode !== undefined) span.attrs[ATTR_H2_GOAWAY_CODE] = h2.goawayCode;
  },
};

/** gRPC calls: named {package.Service}/{Method}, rpc.* instead of http.* (RPC conventions). */
export const grpcSpans: SpanContributor = {
  owns: (ex) => ex.details.grpc !== undefined,
  contribute(ex, span) {
    const grpc = ex.details.grpc;
    if (grpc === undefined) return;
    const head = ex.req.head!;
    const status = ex.res?.head?.status ?? 0;
    span.attrs[ATTR_RPC_SYSTEM_NAME] = 'grpc';
    span.attrs[ATTR_RPC_SYSTEM] = 'grpc';
    if (grpc.byFraming) span.attrs[ATTR_GRPC_RECOGNIZED_BY] = 'framing';
    if (grpc.service !== '') {
      span.name = `${grpc.service}/${grpc.method}`;
      span.attrs[ATTR_RPC_METHOD] = span.name;
      span.attrs[ATTR_RPC_SERVICE] = grpc.service;
    } else {
      span.name = head.target !== '' ? head.target : 'grpc';
      span.attrs[ATTR_RPC_METHOD] = '_OTHER';
    }
    let code = grpc.status;
    if (code === null && status > 0 && status !== 200) code = grpcStatusFromHttp(status);
    if (code !== null) {
      const codeName = GRPC_STATUS_NAMES[code] ?? String(code);
      span.attrs[ATTR_RPC_STATUS_CODE] = codeName;
      span.attrs[ATTR_RPC_GRPC_STATUS_CODE] = code;
      if (grpcIsError(code, ex.clientSide)) span.error = codeName;
    }
    rpcCounts(span.attrs, grpc.request, ATTR_GRPC_REQUEST_MESSAGES, ATTR_GRPC_REQUEST_BYTES, ATTR_GRPC_REQUEST_COMPRESSED, ATTR_GRPC_REQUEST_FRAMING_LOST);
    rpcCounts(span.attrs, grpc.response, ATTR_GRPC_RESPONSE_MESSAGES, ATTR_GRPC_RESPONSE_BYTES, ATTR_GRPC_RESPONSE_COMPRESSED, ATTR_GRPC_RESPONSE_FRAMING_LOST);
    // Requests are SENT by the client and RECEIVED by the server.
    rpcEvents(span.events, grpc.request, ex.clientSide ? 'SENT' : 'RECEIVED');
    rpcEvents(span.events, grpc.response, ex.clientSide ? 'RECEIVED' : 'SENT');
    span.events.sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0));
  },
};

function rpcCounts(attrs: Attributes, f: GrpcFramer, count: string, bytes: string, compressed: string, lost: string): void {
  attrs[count] = f.messages;
  attrs[bytes] = f.bytes;
  if (f.compressed > 0) attrs[compressed] = f.compressed;
  if (f.lost) attrs[lost] = true;
}

function rpcEvents(events: SpanRecord['events'], f: GrpcFramer, type: 'SENT' | 'RECEIVED'): void {
  f.events.forEach((e, i) => {
    events.push({
      name: EVENT_RPC_MESSAGE,
      timeUnixNano: e.time,
      attributes: {
        [ATTR_RPC_MESSAGE_TYPE]: type,
        [ATTR_RPC_MESSAGE_ID]: i + 1,
        [e.compressed ? ATTR_RPC_MESSAGE_COMPRESSED_SIZE : ATTR_RPC_MESSAGE_UNCOMPRESSED_SIZE]: e.size,
      },
    });
  });
}
