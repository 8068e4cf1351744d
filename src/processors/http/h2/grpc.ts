// gRPC over HTTP/2: recognition (content-type), the length-prefixed message framing of each
// direction of a call (counted and sized, never buffered), and status codes.

/** Message events kept per direction of a call. */
export const GRPC_MAX_MESSAGE_EVENTS = 32;

export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** Codes that make a SERVER span an error (OpenTelemetry gRPC conventions); CLIENT: any non-OK. */
const SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

export function grpcIsError(code: number, clientSide: boolean): boolean {
  return clientSide ? code !== 0 : SERVER_ERRORS.has(code);
}

/** "application/grpc", "application/grpc+proto", "application/grpc+json", "application/grpc;..." */
export function isGrpcContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const v = ct.trim().toLowerCase();
  if (!v.startsWith('application/grpc')) return false;
  const c = v.charCodeAt(16);
  return v.length === 16 || c === 0x2b /* + */ || c === 0x3b; /* ; */
}

/** The status a client derives from a non-200 HTTP status when grpc-status is absent (gRPC's HTTP mapping). */
export function grpcStatusFromHttp(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** "/package.Service/Method" → service and method, or null when the path is not of that form. */
export function parseGrpcPath(path: string): { service: string; method: string } | null {
  if (path.charCodeAt(0) !== 0x2f) return null;
  const slash = path.indexOf('/', 1);
  if (slash <= 1 || slash === path.length - 1 || path.indexOf('/', slash + 1) >= 0) return null;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

export interface GrpcMessageEvent {
  time: bigint;
  size: number;
  compressed: boolean;
}

/** Length-prefixed messages of one direction of a call: 1 byte compressed flag, 4 bytes length, payload. */
export class GrpcFramer {
  messages = 0;
  /** Sum of message payload lengths (as on the wire: compressed size when compressed). */
  bytes = 0;
  compressed = 0;
  events: GrpcMessageEvent[] = [];
  /** Framing lost (a gap hit a message prefix, or the prefix was invalid): counts are lower bounds. */
  lost = false;
  private hdr = 0; // prefix bytes seen of the current message (0..5)
  private flag = 0;
  private len = 0;
  private remaining = 0; // payload bytes left
  private inPayload = false;

  push(data: Buffer, from: number, to: number, time: bigint): void {
    if (this.lost) return;
    let p = from;
    while (p < to) {
      if (this.inPayload) {
        const take = Math.min(this.remaining, to - p);
        this.remaining -= take;
        p += take;
        if (this.remaining === 0) this.finish(time);
        continue;
      }
      const b = data[p++]!;
      if (this.hdr === 0) {
        if (b > 1) {
          this.lost = true; // only 0 and 1 are defined
          return;
        }
        this.flag = b;
        this.len = 0;
      } else {
        this.len = this.len * 256 + b;
      }
      this.hdr++;
      if (this.hdr === 5) {
        this.hdr = 0;
        this.remaining = this.len;
        this.inPayload = true;
        if (this.remaining === 0) this.finish(time);
      }
    }
  }

  /** Bytes of this direction's body were not captured. */
  skip(bytes: number): void {
    if (this.lost) return;
    if (this.inPayload && bytes <= this.remaining) {
      this.remaining -= bytes; // inside one message: its size is known
      return;
    }
    this.lost = true;
  }

  /** The body ended: a message cut short means framing was not intact. */
  get partial(): boolean {
    return this.inPayload || this.hdr > 0;
  }

  private finish(time: bigint): void {
    this.inPayload = false;
    this.messages++;
    this.bytes += this.len;
    if (this.flag === 1) this.compressed++;
    if (this.events.length < GRPC_MAX_MESSAGE_EVENTS) this.events.push({ time, size: this.len, compressed: this.flag === 1 });
  }
}
