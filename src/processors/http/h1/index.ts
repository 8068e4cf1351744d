// HTTP/1.x: start lines, heads, chunked framing (head.ts, parser.ts), pairing (handler.ts).
import type { Protocol } from '../core/contract';
import { Http1Detector } from './handler';

export const http1: Protocol = {
  name: 'http/1',
  detector: (limits) => new Http1Detector(limits.maxHeaderBytes),
};
