// The `otlp_grpc` exporter (alias `otlp`): OTLP protobuf over gRPC to a Collector, Jaeger,
// Tempo or any OTLP backend, with our own encoder and client behind the shared queue.

import type { ComponentFactory, CreateContext } from '../../core/component';
import type { SpanRecord } from '../../core/types';
import { encodeTraceRequest } from '../otlp/protobuf';
import { QueuedSpanExporter, type PreparedRequest, type SpanTransport } from '../queued';
import { OtlpGrpcClient } from './client';
import { otlpGrpcSpec, parseOtlpGrpcConfig, type OtlpGrpcConfig } from '../otlp/exporter-config';
import type { SectionSpec } from '../../config/schema';

/** The request is encoded once, then sent as it is on every attempt. */
class OtlpGrpcTransport implements SpanTransport {
  private readonly client: OtlpGrpcClient;
  readonly target: string;
  readonly detail: string;

  constructor(cfg: OtlpGrpcConfig) {
    this.client = new OtlpGrpcClient(cfg);
    this.target = this.client.target;
    this.detail = `${this.client.secure ? 'TLS' : 'plaintext'}, compression ${cfg.compression}`;
  }

  prepare(batch: SpanRecord[]): PreparedRequest {
    const request = encodeTraceRequest(batch);
    return { bytes: request.length, attempt: (timeoutMs) => this.client.export(request, timeoutMs) };
  }

  close() {
    this.client.close();
  }
}

export class OtlpGrpcExporter extends QueuedSpanExporter {
  constructor(cfg: OtlpGrpcConfig, ctx: CreateContext) {
    super(cfg, ctx, new OtlpGrpcTransport(cfg));
  }
}

export const otlpGrpcExporterFactory: ComponentFactory<OtlpGrpcConfig, OtlpGrpcExporter> & { spec: SectionSpec } = {
  type: 'otlp_grpc',
  kind: 'exporter',
  description: 'sends spans as OTLP protobuf over gRPC to a Collector, Jaeger, Tempo or any OTLP backend (queued, retried, never blocks capture)',
  spec: otlpGrpcSpec,
  parseConfig: parseOtlpGrpcConfig,
  create: (cfg, ctx) => new OtlpGrpcExporter(cfg, ctx),
};
