// The `otlp_js` exporter: an OpenTelemetry JS SpanExporter package behind this project's queue,
// retries and split (which the packages do not have). Spans reach the package through the SDK's
// span contract (ReadableSpan), so any SpanExporter could stand here; the config picks one of
// the two OTLP ones: @opentelemetry/exporter-trace-otlp-grpc or -proto (OTLP/HTTP protobuf).
// Its settings live here; the packages (slow to load) only when a pipeline uses it (./exporter).

import { ConfigError, type ComponentFactory } from '../../core/component';
import { join, type SectionSpec } from '../../config/schema';
import { otlpGrpcSpec, parseOtlpGrpcConfig, type OtlpGrpcConfig } from '../otlp/exporter-config';
import type { OtlpJsExporter } from './exporter';

const PROTOCOLS = ['grpc', 'http/protobuf'] as const;
export type OtlpJsProtocol = (typeof PROTOCOLS)[number];
export interface OtlpJsConfig extends OtlpGrpcConfig {
  protocol: OtlpJsProtocol;
}

export const otlpJsSpec: SectionSpec = {
  protocol: {
    type: 'string',
    enum: [...PROTOCOLS],
    default: 'grpc',
    doc: 'grpc: @opentelemetry/exporter-trace-otlp-grpc; http/protobuf: @opentelemetry/exporter-trace-otlp-proto (POST to /v1/traces)',
  },
  ...otlpGrpcSpec,
  endpoint: {
    type: 'string',
    default: 'localhost:4317',
    doc: 'host:port of the OTLP receiver (gRPC usually 4317, HTTP 4318); an https:// prefix forces TLS, http:// plaintext',
  },
};

export function parseOtlpJsConfig(raw: unknown, path: string): OtlpJsConfig {
  const section = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
  const { protocol = 'grpc', ...rest } = section ?? {};
  const cfg = { ...parseOtlpGrpcConfig(section ? rest : raw, path), protocol } as OtlpJsConfig;
  if (!PROTOCOLS.includes(protocol as OtlpJsProtocol)) {
    throw new ConfigError(join(path, 'protocol'), `must be one of grpc, http/protobuf, got ${JSON.stringify(protocol)}`);
  }
  // The packages open their own connections: what they cannot be told is refused, not ignored.
  if (cfg.tls.server_name_override && cfg.protocol === 'grpc')
    throw new ConfigError(join(join(path, 'tls'), 'server_name_override'), 'not supported with protocol grpc (the package takes no channel options)');
  return cfg;
}

export const otlpJsExporterFactory: ComponentFactory<OtlpJsConfig, OtlpJsExporter> & { spec: SectionSpec } = {
  type: 'otlp_js',
  kind: 'exporter',
  description: 'sends spans with an OpenTelemetry JS OTLP exporter package (gRPC or HTTP/protobuf), behind the same queue, retries and split as otlp_grpc',
  spec: otlpJsSpec,
  parseConfig: parseOtlpJsConfig,
  create: (cfg, ctx) => new (require('./exporter') as typeof import('./exporter')).OtlpJsExporter(cfg, ctx),
};
