// The `file` exporter: OTLP/JSON lines, as the OpenTelemetry Collector's file exporter writes
// them (one ExportTraceServiceRequest per line), so the same tools read both.
//
// Lines are encoded at once into UTF-8 chunks outside the V8 heap (bounded) and appended every
// flush_interval, or as soon as WRITE_EARLY_BYTES wait; the file is opened for each append, so
// log rotation by rename just works. A failing disk never stops the
// pipeline: the error is logged (rate-limited) and the spans are counted as dropped.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, type ComponentFactory, type CreateContext, type ExporterComponent, type Stats } from '../../core/component';
import type { SpanRecord } from '../../core/types';
import { parseSection, type SectionSpec } from '../../config/schema';
import { writeTraceRequestJson } from '../otlp/json';
import { FailureLog } from '../../util/failure-log';
import { Utf8Chunks } from '../../util/utf8-chunks';

export interface FileExporterConfig {
  path: string;
  flush_interval: number; // ms
}

export const fileExporterSpec: SectionSpec = {
  path: { type: 'string', required: true, doc: 'file to append OTLP/JSON lines to; missing directories are created' },
  flush_interval: { type: 'duration', default: 1000, doc: 'how often buffered lines are written; 0 writes each batch as it comes' },
};

/** Past this much unwritten data (a stuck disk), new spans are dropped instead of buffered. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;
/** A write starts before flush_interval once this much waits: memory stays low at high span rates. */
const WRITE_EARLY_BYTES = 4 * 1024 * 1024;
/**
 * Past this much, the asynchronous write is not getting its turns of the event loop (under load
 * the receiver's batches can keep it busy for over a second) or the disk is slow: the lines are
 * written synchronously, milliseconds of pause instead of dropped spans. (A disk that hangs
 * rather than fails then holds up the pipeline; one that fails is counted as before.)
 */
const WRITE_NOW_BYTES = 16 * 1024 * 1024;

export class FileExporter implements ExporterComponent {
  private readonly pending = new Utf8Chunks();
  private pendingSpans = 0;
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly failures: FailureLog;
  private readonly counters = { sent: 0, bytes: 0, writeFailed: 0, queueFull: 0 };

  constructor(
    private readonly cfg: FileExporterConfig,
    private readonly ctx: CreateContext,
  ) {
    this.failures = new FailureLog(ctx.logger);
  }

  async start(): Promise<void> {
    try {
      await fs.promises.mkdir(path.dirname(path.resolve(this.cfg.path)), { recursive: true });
      await fs.promises.appendFile(this.cfg.path, '');
    } catch (e) {
      // Not fatal: the disk may come back (a mount, a permission fix); each write retries.
      this.failures.failure(`cannot open ${this.cfg.path} for appending: ${(e as Error).message}; spans will be dropped until it can be written`);
    }
    if (this.cfg.flush_interval > 0) {
      this.timer = setInterval(() => void this.flush(), this.cfg.flush_interval);
      this.timer.unref();
    }
  }

  consumeSpans(spans: SpanRecord[]): void {
    if (spans.length === 0) return;
    if (this.closed) {
      this.counters.queueFull += spans.length;
      return;
    }
    if (this.pending.byteLength >= MAX_PENDING_BYTES) {
      this.counters.queueFull += spans.length;
      return;
    }
    writeTraceRequestJson(spans, this.pending);
    this.pending.append('\n');
    this.pendingSpans += spans.length;
    if (this.pending.byteLength >= WRITE_NOW_BYTES) this.writePendingNow();
    else if (this.cfg.flush_interval === 0 || (this.pending.byteLength >= WRITE_EARLY_BYTES && !this.writing)) void this.flush();
  }

  /** Resolves once everything buffered so far is written (or failed). */
  async flush(): Promise<void> {
    while (this.writing || this.pending.byteLength > 0) {
      if (!this.writing) this.writing = this.writePending();
      await this.writing;
    }
  }

  /** One append of all buffered lines; only one runs at a time, so lines never interleave. */
  private async writePending(): Promise<void> {
    const { data, spans } = this.takePending();
    try {
      await appendAll(this.cfg.path, data);
      this.written(data, spans);
    } catch (e) {
      this.failed(spans, e as Error);
    } finally {
      this.pending.giveBack(data);
      this.writing = undefined;
    }
  }

  /** The same, synchronously (see WRITE_NOW_BYTES): lines stay whole, though one may land before those of a write in flight. */
  private writePendingNow(): void {
    const { data, spans } = this.takePending();
    try {
      appendAllSync(this.cfg.path, data);
      this.written(data, spans);
    } catch (e) {
      this.failed(spans, e as Error);
    } finally {
      this.pending.giveBack(data);
    }
  }

  private takePending(): { data: Buffer[]; spans: number } {
    const spans = this.pendingSpans;
    this.pendingSpans = 0;
    return { data: this.pending.take(), spans };
  }

  private written(data: Buffer[], spans: number): void {
    this.counters.sent += spans;
    this.counters.bytes += data.reduce((n, b) => n + b.length, 0);
    this.failures.success(`writing to ${this.cfg.path} works again`);
  }

  private failed(spans: number, e: Error): void {
    this.counters.writeFailed += spans;
    this.failures.failure(`cannot write ${spans} span(s) to ${this.cfg.path}: ${e.message}`);
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.closed = true;
    await this.flush();
  }

  stats(): Stats {
    return {
      'spans.sent': this.counters.sent,
      'bytes.written': this.counters.bytes,
      'drops.write_failed': this.counters.writeFailed,
      'drops.exporter_queue_full': this.counters.queueFull,
    };
  }
}

/**
 * Appends the buffers in order: one open, one writev (more only if the kernel writes less).
 * Each await is a turn of the event loop, and a busy collector turns it rarely: the directory is
 * created again only if it went away, and the close is not waited for (the data is written).
 */
async function appendAll(file: string, data: Buffer[]): Promise<void> {
  const fh = await fs.promises.open(file, 'a').catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
    await fs.promises.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    return fs.promises.open(file, 'a');
  });
  try {
    for (let rest = data; rest.length > 0;) rest = afterBytes(rest, (await fh.writev(rest)).bytesWritten);
  } finally {
    fh.close().catch(() => {}); // nothing left to lose: write errors were reported above
  }
}

function appendAllSync(file: string, data: Buffer[]): void {
  let fd: number;
  try {
    fd = fs.openSync(file, 'a');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fd = fs.openSync(file, 'a');
  }
  try {
    for (let rest = data; rest.length > 0;) rest = afterBytes(rest, fs.writevSync(fd, rest));
  } finally {
    fs.closeSync(fd);
  }
}

/** What remains of `buffers` once their first `n` bytes are written. */
function afterBytes(buffers: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && n >= buffers[i]!.length) n -= buffers[i++]!.length;
  if (i === buffers.length) return [];
  return [buffers[i]!.subarray(n), ...buffers.slice(i + 1)];
}

export const fileExporterFactory: ComponentFactory<FileExporterConfig, FileExporter> & { spec: SectionSpec } = {
  type: 'file',
  kind: 'exporter',
  description: 'appends spans to a file as OTLP/JSON lines (the Collector file exporter format)',
  spec: fileExporterSpec,
  parseConfig: (raw, p) => {
    const cfg = parseSection<FileExporterConfig>(raw, p, fileExporterSpec);
    if (cfg.path.trim() === '') throw new ConfigError(`${p}::path`, 'must not be empty');
    return cfg;
  },
  create: (cfg, ctx) => new FileExporter(cfg, ctx),
};
