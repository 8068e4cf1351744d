// The collector's own telemetry: a Prometheus endpoint and a periodic summary log line, both
// built from Service.componentStats() (so every component is covered by its stats() alone).
//
//   service:
//     telemetry:
//       metrics: { address: 0.0.0.0:8888 }      # GET /metrics (Prometheus text), GET /healthz
//       logs: { summary_interval: 60s }          # one summary line per minute
//
// Both are off by default. The endpoint listens before the receivers load (a busy port is a
// start-up error, not a silent gap) and /healthz answers 503 until the collector is ready.

import * as http from 'node:http';
import { UserError } from '../core/component';
import type { Logger } from '../core/logger';
import type { TelemetryConfig } from '../config/loader';
import { parseListenAddress } from '../config/loader';
import { summarize, type ComponentStats, type Summary } from '../summary';
import { renderMetrics } from './prometheus';

export interface StatsSource {
  componentStats(): ComponentStats[];
}

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)}MiB`;

export class SelfTelemetry {
  private server: http.Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ready = false;
  private last: { at: number; summary: Summary } | undefined;
  private readonly startTimeSeconds = Math.round(Date.now() / 1000 - process.uptime());
  /** Where the endpoint listens, once it does (port 0 in the config picks a free one). */
  address: { host: string; port: number } | undefined;

  constructor(
    private readonly cfg: TelemetryConfig,
    private readonly source: StatsSource,
    private readonly logger: Logger,
    private readonly version: string,
  ) {}

  async start(): Promise<void> {
    if (this.cfg.metricsAddress) await this.listen();
    if (this.cfg.summaryIntervalMs > 0) {
      this.timer = setInterval(() => this.logSummary(), this.cfg.summaryIntervalMs);
      this.timer.unref();
    }
  }

  markReady() {
    this.ready = true;
    this.last = { at: Date.now(), summary: summarize(this.source.componentStats()) };
  }

  private listen(): Promise<void> {
    const { host, port } = parseListenAddress(this.cfg.metricsAddress, 'service::telemetry::metrics::address');
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 65_000;
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new UserError(`service::telemetry::metrics::address: cannot listen on ${this.cfg.metricsAddress}: ${e.code ?? e.message}`)),
      );
      server.listen(port, host, () => {
        const a = server.address();
        this.address = a && typeof a === 'object' ? { host: a.address, port: a.port } : { host, port };
        this.server = server;
        server.unref();
        this.logger.info(`self-metrics on http://${host.includes(':') ? `[${host}]` : host}:${this.address.port}/metrics`);
        resolve();
      });
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      let body: string;
      try {
        body = renderMetrics(this.source.componentStats(), { version: this.version, startTimeSeconds: this.startTimeSeconds });
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(e as Error).message}\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : body);
    } else if (url === '/healthz' || url === '/readyz') {
      res.writeHead(this.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(this.ready ? 'ok\n' : 'starting\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics or /healthz\n');
    }
  }

  /** One line: what happened since the last one, the current levels, memory. */
  logSummary() {
    const components = this.source.componentStats();
    const now = summarize(components);
    const prev = this.last?.summary;
    const secs = this.last ? Math.max((Date.now() - this.last.at) / 1000, 0.001) : process.uptime();
    this.last = { at: Date.now(), summary: now };
    const d = (a: number, b: number | undefined) => a - (b ?? 0);
    const dropsNow = Object.values(now.drops).reduce((a, b) => a + b, 0);
    const dropsPrev = prev ? Object.values(prev.drops).reduce((a, b) => a + b, 0) : 0;
    const newDrops = Object.entries(now.drops)
      .map(([r, n]) => [r, n - (prev?.drops[r] ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r}=${n}`);
    let open = 0;
    const queues: string[] = [];
    for (const c of components) {
      if (c.kind === 'receiver') open += c.stats['connections.open'] ?? 0;
      if (c.kind === 'exporter' && ('queue.spans' in c.stats || 'queue.batches' in c.stats)) {
        queues.push(`${c.id ?? c.label}=${c.stats['queue.spans'] ?? c.stats['queue.batches']}`);
      }
    }
    const mem = process.memoryUsage();
    this.logger.info(
      `periodic summary (last ${secs < 10 ? secs.toFixed(1) : Math.round(secs)}s): records=+${d(now.records, prev?.records)} bytes=+${d(now.bytes, prev?.bytes)}` +
        ` exchanges=+${d(now.exchanges, prev?.exchanges)} spans_exported=+${d(now.spansExported, prev?.spansExported)}` +
        ` drops=+${dropsNow - dropsPrev}${newDrops.length ? ` (${newDrops.join(' ')})` : ''};` +
        ` totals: records=${now.records} exchanges=${now.exchanges} spans_exported=${now.spansExported} drops=${dropsNow};` +
        ` open_connections=${open}${queues.length ? ` exporter_queue=${queues.join(',')}` : ''}; rss=${mib(mem.rss)} heap=${mib(mem.heapUsed)}`,
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
