// The gRPC channel credentials of an OTLP exporter's `tls` settings (otlp_grpc, and otlp_js's gRPC transport).

import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { OtlpGrpcConfig } from './exporter-config';

/** Plaintext, or TLS with the configured CA, client certificate and verification. */
export function channelCredentials(tls: OtlpGrpcConfig['tls'], secure: boolean): grpc.ChannelCredentials {
  if (!secure) return grpc.credentials.createInsecure();
  const read = (f: string) => (f ? fs.readFileSync(f) : null);
  return grpc.credentials.createSsl(read(tls.ca_file), read(tls.key_file), read(tls.cert_file), {
    rejectUnauthorized: !tls.insecure_skip_verify,
    ...(tls.insecure_skip_verify ? { checkServerIdentity: () => undefined } : {}),
  });
}
