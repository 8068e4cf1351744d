// HTTP/2 (frames.ts, hpack.ts, huffman.ts, handler.ts) and gRPC on top of it (grpc.ts).
import type { Protocol } from '../core/contract';
import { Http2Detector, Http2Handler } from './handler';
import { grpcSpans, h2Spans } from './spans';

export const http2: Protocol = {
  name: 'http/2',
  detector: () => new Http2Detector(),
  // HTTP/1.1 Upgrade: h2c answered by 101: the upgrade request is stream 1's request.
  upgradeTokens: ['h2c'],
  takeOver(ctx, h) {
    ctx.stats.add('connections.h2c');
    return new Http2Handler(ctx, { kind: 'upgrade', clientDir: h.clientDir, request: h.request });
  },
  spans: [h2Spans, grpcSpans],
};
