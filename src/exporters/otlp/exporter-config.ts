// Settings of the OTLP exporters — `otlp_grpc` (alias `otlp`) and `otlp_js`, which share them — named
// and defaulted like the OpenTelemetry Collector's otlp exporter so its users can copy their sections over.

import * as fs from 'node:fs';
import { ConfigError } from '../../core/component';
import { join, parseSection, type SectionSpec } from '../../config/schema';

export interface OtlpGrpcConfig {
  endpoint: string;
  tls: {
    insecure: boolean;
    insecure_skip_verify: boolean;
    ca_file: string;
    cert_file: string;
    key_file: string;
    server_name_override: string;
  };
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeout: number; // ms, per attempt
  sending_queue: { enabled: boolean; num_consumers: number; queue_size: number; sizer: 'requests' | 'items' };
  retry_on_failure: { enabled: boolean; initial_interval: number; max_interval: number; max_elapsed_time: number };
  flush_timeout: number; // ms
}

export const otlpGrpcSpec: SectionSpec = {
  endpoint: {
    type: 'string',
    default: 'localhost:4317',
    doc: 'host:port of the OTLP/gRPC receiver; an https:// prefix forces TLS, http:// forces plaintext',
  },
  tls: {
    type: 'object',
    doc: 'transport security; TLS with the system CAs unless insecure is true',
    fields: {
      insecure: { type: 'bool', default: false, doc: 'plaintext connection (no TLS), as for a local Collector or Jaeger' },
      insecure_skip_verify: { type: 'bool', default: false, doc: 'TLS without checking the server certificate' },
      ca_file: { type: 'string', default: '', doc: 'PEM file of CA certificates to trust instead of the system ones' },
      cert_file: { type: 'string', default: '', doc: 'PEM client certificate (mutual TLS); needs key_file' },
      key_file: { type: 'string', default: '', doc: 'PEM client key (mutual TLS); needs cert_file' },
      server_name_override: { type: 'string', default: '', doc: 'name to check the server certificate against' },
    },
  },
  headers: { type: 'stringmap', default: {}, doc: 'gRPC metadata sent with every export, e.g. an API key' },
  compression: { type: 'string', enum: ['gzip', 'none'], default: 'gzip', doc: 'request compression' },
  timeout: { type: 'duration', default: 5000, min: 1, doc: 'deadline of one export attempt' },
  sending_queue: {
    type: 'object',
    doc: 'in-memory queue between the pipeline and the backend; the pipeline never waits for the backend',
    fields: {
      enabled: {
        type: 'bool',
        default: true,
        doc: 'false: no buffering; a batch is sent at once if a sender is free, else dropped',
      },
      num_consumers: { type: 'int', default: 10, min: 1, max: 1000, doc: 'exports in flight at once' },
      queue_size: {
        type: 'int',
        default: 1000,
        min: 1,
        doc: 'how much may wait to be sent, in the unit of sizer; when full, new batches are dropped and counted (memory bound: queue_size × span size, plus num_consumers batches in flight)',
      },
      sizer: {
        type: 'string',
        enum: ['requests', 'items'],
        default: 'requests',
        doc: 'unit of queue_size: requests = batches (what the previous processor hands over; with batch in front, up to its send_batch_max_size spans), items = spans',
      },
    },
  },
  retry_on_failure: {
    type: 'object',
    doc: 'retries of retryable failures (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, ...) with exponential back-off and jitter; permanent errors are never retried',
    fields: {
      enabled: { type: 'bool', default: true, doc: 'retry retryable failures' },
      initial_interval: { type: 'duration', default: 5000, min: 1, doc: 'wait before the first retry' },
      max_interval: { type: 'duration', default: 30_000, min: 1, doc: 'upper bound of the wait between retries' },
      max_elapsed_time: { type: 'duration', default: 300_000, doc: 'give up on a batch after this long; 0 retries for ever' },
    },
  },
  flush_timeout: {
    type: 'duration',
    default: 5000,
    doc: 'at shutdown, how long to keep sending what is queued; what is left is reported as dropped',
  },
};

export function parseOtlpGrpcConfig(raw: unknown, path: string): OtlpGrpcConfig {
  const cfg = parseSection<OtlpGrpcConfig>(raw, path, otlpGrpcSpec);
  parseEndpoint(cfg.endpoint, join(path, 'endpoint'));
  const tlsPath = join(path, 'tls');
  if (Boolean(cfg.tls.cert_file) !== Boolean(cfg.tls.key_file)) {
    throw new ConfigError(join(tlsPath, cfg.tls.cert_file ? 'key_file' : 'cert_file'), 'cert_file and key_file go together (mutual TLS needs both)');
  }
  for (const key of ['ca_file', 'cert_file', 'key_file'] as const) {
    const file = cfg.tls[key];
    if (file && !fs.existsSync(file)) throw new ConfigError(join(tlsPath, key), `no such file: ${file}`);
  }
  const retry = cfg.retry_on_failure;
  if (retry.max_interval < retry.initial_interval) {
    throw new ConfigError(
      join(join(path, 'retry_on_failure'), 'max_interval'),
      `must be at least initial_interval (${retry.initial_interval}ms), got ${retry.max_interval}ms`,
    );
  }
  for (const [k, v] of Object.entries(cfg.headers)) {
    if (!/^[a-z0-9_.-]+$/.test(k))
      throw new ConfigError(join(join(path, 'headers'), k), 'gRPC metadata keys must be lowercase letters, digits, "_", "-" or "."');
    if (k.endsWith('-bin')) throw new ConfigError(join(join(path, 'headers'), k), 'binary (-bin) metadata is not supported');
    void v;
  }
  return cfg;
}

export interface Endpoint {
  /** host:port for grpc-js. */
  target: string;
  /** true/false when the scheme decided it (http:// or https://), else undefined. */
  tlsFromScheme?: boolean;
}

export function parseEndpoint(endpoint: string, path: string, defaultPort = 4317): Endpoint {
  let rest = endpoint.trim();
  let tlsFromScheme: boolean | undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    const s = scheme[1]!.toLowerCase();
    if (s !== 'http' && s !== 'https') throw new ConfigError(path, `unsupported scheme ${s}://; write host:port (or http:// / https:// before it)`);
    tlsFromScheme = s === 'https';
    rest = rest.slice(scheme[0].length).replace(/\/+$/, '');
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/\s[\]]+)(?::(\d+))?$/.exec(rest);
  if (!m) throw new ConfigError(path, `expected host:port, e.g. localhost:4317, got ${JSON.stringify(endpoint)}`);
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(path, `port must be between 1 and 65535, got ${port}`);
  return { target: `${m[1]}:${port}`, tlsFromScheme };
}
