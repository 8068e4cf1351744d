// The `debug` exporter: spans as readable lines on stdout, for a first look with no backend.
// Writing never blocks the pipeline: if stdout does not keep up (a paused pager, a slow pipe),
// lines are dropped and counted rather than buffered without bound.

import type { ComponentFactory, CreateContext, ExporterComponent, Stats } from '../../core/component';
import type { SpanRecord } from '../../core/types';
import { parseSection, type SectionSpec } from '../../config/schema';
import { formatSpan, type Verbosity } from './format';

export interface DebugExporterConfig {
  verbosity: Verbosity;
}

export const debugExporterSpec: SectionSpec = {
  verbosity: {
    type: 'string',
    enum: ['basic', 'normal', 'detailed'],
    default: 'normal',
    doc: 'basic: time, kind, service, name, status, duration; normal: plus method, URL/path, status code, peer, short trace/span IDs; detailed: plus every attribute, resource attribute and event on indented lines',
  },
};

/** Past this much unwritten output, new spans are dropped instead of queued. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

interface Output {
  write(chunk: string): boolean;
  writableLength?: number;
  on?(event: 'error', cb: (err: Error) => void): unknown;
}

export class DebugExporter implements ExporterComponent {
  private sent = 0;
  private dropped = 0;
  private closed = false;
  private broken = false;

  constructor(
    private readonly cfg: DebugExporterConfig,
    private readonly ctx: CreateContext,
    private readonly out: Output = process.stdout,
  ) {
    this.out.on?.('error', (err) => {
      if (!this.broken) ctx.logger.warn(`cannot write spans to stdout: ${err.message}; further spans are dropped`);
      this.broken = true;
    });
  }

  async start(): Promise<void> {}

  consumeSpans(spans: SpanRecord[]): void {
    if (spans.length === 0) return;
    if (this.closed || this.broken || (this.out.writableLength ?? 0) > MAX_PENDING_BYTES) {
      this.dropped += spans.length;
      return;
    }
    let text = '';
    for (const s of spans) text += formatSpan(s, this.cfg.verbosity) + '\n';
    this.out.write(text);
    this.sent += spans.length;
  }

  async shutdown(): Promise<void> {
    this.closed = true;
  }

  stats(): Stats {
    return { 'spans.sent': this.sent, 'drops.output_backpressure': this.dropped };
  }
}

export const debugExporterFactory: ComponentFactory<DebugExporterConfig, DebugExporter> & { spec: SectionSpec } = {
  type: 'debug',
  kind: 'exporter',
  description: 'prints one readable line per span to stdout (verbosity basic|normal|detailed); needs no backend',
  spec: debugExporterSpec,
  parseConfig: (raw, path) => parseSection<DebugExporterConfig>(raw, path, debugExporterSpec),
  create: (cfg, ctx) => new DebugExporter(cfg, ctx),
};
