// The protocols of the http processor, in detection order (HTTP/2's preface and frames are told
// apart from HTTP/1 start lines first). Adding a protocol: its folder (a Protocol, see
// core/contract.ts and README.md "The contract") and one line here.
import type { Protocol } from './core/contract';
import { http1 } from './h1';
import { http2 } from './h2';

export const PROTOCOLS: readonly Protocol[] = [http2, http1];
