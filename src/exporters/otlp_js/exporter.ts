// The otlp_js exporter itself: the OpenTelemetry JS exporter package the config names, fed
// ReadableSpan views, behind the project's queue (see ./index for its settings).

import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { CreateContext } from '../../core/component';
import type { SpanRecord } from '../../core/types';
import { encodeTraceRequest } from '../otlp/protobuf';
import { parseEndpoint } from '../otlp/exporter-config';
import { channelCredentials } from '../otlp/grpc-credentials';
import type { ExportResult } from '../queued';
import { QueuedSpanExporter, type PreparedRequest, type SpanTransport } from '../queued';
import { ReadableSpanViews } from '../sdk/readable-span';
import type { OtlpJsConfig, OtlpJsProtocol } from './index';

/** gRPC status codes for what the packages report: gRPC errors carry one, HTTP errors a status. */
function failure(protocol: OtlpJsProtocol, error: unknown): Extract<ExportResult, { ok: false }> {
  const e = error as { code?: unknown; message?: string } | undefined;
  const message = e?.message ?? String(error);
  if (protocol === 'grpc' && typeof e?.code === 'number') return { ok: false, code: e.code, message };
  if (typeof e?.code === 'number') {
    // OTLP/HTTP: 429, 502, 503 and 504 are transient; other statuses fail the same way again.
    const transient = [429, 502, 503, 504].includes(e.code);
    return { ok: false, code: transient ? grpc.status.UNAVAILABLE : grpc.status.INVALID_ARGUMENT, message: `HTTP ${e.code}: ${message}` };
  }
  // No answer at all (connection refused, reset, timed out): the backend may come back.
  return { ok: false, code: grpc.status.UNAVAILABLE, message };
}

function sdkExporter(cfg: OtlpJsConfig): { exporter: SpanExporter; target: string; secure: boolean } {
  const http = cfg.protocol === 'http/protobuf';
  const ep = parseEndpoint(cfg.endpoint, 'endpoint', http ? 4318 : 4317);
  const secure = ep.tlsFromScheme ?? !cfg.tls.insecure;
  const compression = cfg.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  const common = { timeoutMillis: cfg.timeout, concurrencyLimit: cfg.sending_queue.num_consumers, compression };
  if (http) {
    const url = `${secure ? 'https' : 'http'}://${ep.target}/v1/traces`;
    const tls = cfg.tls;
    const read = (f: string) => (f ? fs.readFileSync(f) : undefined);
    const agent = secure
      ? {
          ca: read(tls.ca_file),
          cert: read(tls.cert_file),
          key: read(tls.key_file),
          rejectUnauthorized: !tls.insecure_skip_verify,
          ...(tls.server_name_override ? { servername: tls.server_name_override } : {}),
        }
      : {};
    return { exporter: new ProtoTraceExporter({ ...common, url, headers: cfg.headers, httpAgentOptions: { keepAlive: true, ...agent } }), target: url, secure };
  }
  const credentials = channelCredentials(cfg.tls, secure);
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(cfg.headers)) metadata.set(k, v);
  return {
    exporter: new GrpcTraceExporter({ ...common, url: `${secure ? 'https' : 'http'}://${ep.target}`, credentials, metadata }),
    target: ep.target,
    secure,
  };
}

/** A SpanExporter as a transport: ReadableSpan views in, a gRPC-style result out. */
export class SpanExporterTransport implements SpanTransport {
  private readonly views = new ReadableSpanViews();

  constructor(
    private readonly exporter: SpanExporter,
    private readonly protocol: OtlpJsProtocol,
    readonly target: string,
    readonly detail: string,
  ) {}

  prepare(batch: SpanRecord[]): PreparedRequest {
    // The split needs the request's size: our encoder's bytes are the package serializer's
    // (test/unit/otlp-protobuf.test.ts), so it measures what the package will send.
    const bytes = encodeTraceRequest(batch).length;
    return { bytes, attempt: (timeoutMs) => this.attempt(batch, timeoutMs) };
  }

  private attempt(batch: SpanRecord[], timeoutMs: number): Promise<ExportResult> {
    const spans = batch.map((s) => this.views.view(s));
    return new Promise((resolve) => {
      // The package has its own deadline (timeoutMillis); this one only guards a callback that never comes.
      const guard = setTimeout(
        () => resolve({ ok: false, code: grpc.status.DEADLINE_EXCEEDED, message: `no answer from the exporter package in ${timeoutMs + 1000}ms` }),
        timeoutMs + 1000,
      );
      try {
        this.exporter.export(spans, (r) => {
          clearTimeout(guard);
          // ExportResultCode.SUCCESS = 0. The packages log partial success instead of returning it.
          resolve(r.code === 0 ? { ok: true, rejectedSpans: 0, errorMessage: '' } : failure(this.protocol, r.error));
        });
      } catch (e) {
        clearTimeout(guard);
        resolve(failure(this.protocol, e));
      }
    });
  }

  close() {
    void this.exporter.shutdown().catch(() => undefined);
  }
}

export class OtlpJsExporter extends QueuedSpanExporter {
  constructor(cfg: OtlpJsConfig, ctx: CreateContext) {
    const { exporter, target, secure } = sdkExporter(cfg);
    const pkg = cfg.protocol === 'grpc' ? '@opentelemetry/exporter-trace-otlp-grpc' : '@opentelemetry/exporter-trace-otlp-proto';
    super(cfg, ctx, new SpanExporterTransport(exporter, cfg.protocol, target, `${pkg}, ${secure ? 'TLS' : 'plaintext'}, compression ${cfg.compression}`));
  }
}
