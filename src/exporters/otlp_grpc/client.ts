// One gRPC channel to an OTLP/gRPC receiver and the unary Export call on it, with our own
// protobuf serializer (the request is already encoded; grpc-js only frames it).

import * as grpc from '@grpc/grpc-js';
import { decodeRetryDelay, decodeTraceResponse } from '../otlp/protobuf';
import type { ExportResult } from '../queued';
import { parseEndpoint, type OtlpGrpcConfig } from '../otlp/exporter-config';
import { channelCredentials } from '../otlp/grpc-credentials';

export const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const identity = (b: Buffer) => b;

export class OtlpGrpcClient {
  private readonly client: grpc.Client;
  private readonly metadata: grpc.Metadata;
  private readonly active = new Set<grpc.ClientUnaryCall>();
  readonly target: string;
  readonly secure: boolean;

  constructor(cfg: OtlpGrpcConfig) {
    const ep = parseEndpoint(cfg.endpoint, 'endpoint');
    this.target = ep.target;
    this.secure = ep.tlsFromScheme ?? !cfg.tls.insecure;
    const options: grpc.ChannelOptions = {
      // Reconnect quickly once a backend comes back: grpc-js would otherwise back off up to
      // two minutes between connection attempts, while our own retry waits much less.
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5000,
      'grpc.primary_user_agent': 'tcpsniff-collector',
    };
    if (cfg.compression === 'gzip') options['grpc.default_compression_algorithm'] = 2; // gzip
    if (cfg.tls.server_name_override) options['grpc.ssl_target_name_override'] = cfg.tls.server_name_override;
    this.client = new grpc.Client(this.target, channelCredentials(cfg.tls, this.secure), options);
    this.metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(cfg.headers)) this.metadata.set(k, v);
  }

  /** One Export attempt; never rejects. */
  export(request: Buffer, timeoutMs: number): Promise<ExportResult> {
    return new Promise((resolve) => {
      try {
        const call = this.client.makeUnaryRequest(
          EXPORT_METHOD,
          identity,
          identity,
          request,
          this.metadata,
          { deadline: Date.now() + timeoutMs },
          (err: grpc.ServiceError | null, response?: Buffer) => {
            this.active.delete(call);
            if (err) {
              const details = err.metadata?.get('grpc-status-details-bin')[0];
              const retryDelayMs = Buffer.isBuffer(details) ? decodeRetryDelay(details) : undefined;
              return resolve({ ok: false, code: err.code, message: err.details || err.message, ...(retryDelayMs !== undefined ? { retryDelayMs } : {}) });
            }
            try {
              const partial = decodeTraceResponse(response ?? Buffer.alloc(0));
              resolve({ ok: true, ...partial });
            } catch {
              // The spans were accepted; an unreadable response only loses the partial-success detail.
              resolve({ ok: true, rejectedSpans: 0, errorMessage: '' });
            }
          },
        );
        this.active.add(call);
      } catch (e) {
        resolve({ ok: false, code: grpc.status.UNAVAILABLE, message: (e as Error).message });
      }
    });
  }

  /** Ends calls still in flight (they finish with CANCELLED) and the channel. */
  close() {
    for (const call of this.active) call.cancel();
    this.active.clear();
    this.client.close();
  }
}
