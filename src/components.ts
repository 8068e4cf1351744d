// Every component type this build knows, by kind. The CLI, `validate` and `help` all read
// this one list, so adding a component here is all it takes to make it configurable.

import type { ComponentKind } from './core/component';
import { Registry, type AnyFactory } from './config/registry';
import { tcpReceiverFactory } from './receivers/tcp';
import { sendfileReceiverFactory } from './receivers/sendfile';
import { unixReceiverFactory } from './receivers/unix';
import { httpProcessorFactory } from './processors/http';
import { batchProcessorFactory } from './processors/batch';
import { genaiProcessorFactory } from './processors/genai';
import { domainFilterProcessorFactory } from './processors/domain_filter';
import { redactionProcessorFactory } from './processors/redaction';
import { traceLinksProcessorFactory } from './processors/trace_links';
import { debugExporterFactory } from './exporters/debug';
import { fileExporterFactory } from './exporters/file';
import { otlpGrpcExporterFactory } from './exporters/otlp_grpc';
import { otlpJsExporterFactory } from './exporters/otlp_js';

const ALIASES: Array<{ kind: ComponentKind; alias: string; target: string }> = [
  // The Collector calls its OTLP/gRPC exporter `otlp`; accept its configs as they are.
  { kind: 'exporter', alias: 'otlp', target: 'otlp_grpc' },
];

export function builtinRegistry(): Registry {
  const factories: AnyFactory[] = [
    tcpReceiverFactory,
    sendfileReceiverFactory,
    unixReceiverFactory,
    httpProcessorFactory,
    traceLinksProcessorFactory,
    genaiProcessorFactory,
    domainFilterProcessorFactory,
    redactionProcessorFactory,
    batchProcessorFactory,
    debugExporterFactory,
    fileExporterFactory,
    otlpGrpcExporterFactory,
    otlpJsExporterFactory,
  ];
  return new Registry(factories, ALIASES);
}
