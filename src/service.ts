// Builds the components a config describes, runs them and stops them.
//
//   receivers ──(fan-out per pipeline)──► http ──► span processors ──► exporters (fan-out)
//
// Built back to front, as in the Collector: exporters, then each pipeline's processors last to
// first, then receivers, each created with its next consumer (never wired later). What a
// component needs from the service is declared on its factory (Capabilities).
// Like the Collector, receivers and exporters are one instance per ID, shared by the
// pipelines that list them; processors are one instance per pipeline, since they hold
// per-stream state. Start order is exporters, processors, receivers (nothing flows before
// its consumer runs); shutdown is the reverse, one stage at a time, each component with a
// time limit, and a component that fails to stop does not keep the others from stopping.

import {
  ConfigError,
  UserError,
  type Component,
  type CreateContext,
  type ChunkProcessorComponent,
  type ExporterComponent,
  type ReceiverComponent,
  type SpanProcessorComponent,
} from './core/component';
import type { Logger } from './core/logger';
import type { ChunkConsumer, SpanConsumer } from './core/types';
import type { CollectorConfig, ComponentConfig } from './config/loader';
import { ChunkFanout, SpanFanout } from './util/fanout';
import { summarize, type ComponentStats, type Summary } from './summary';
import { planPushdown } from './pushdown';

export interface ServiceOptions {
  logger: Logger;
  /** Longest wait for one component's shutdown (its own flush timeouts should be shorter). */
  componentShutdownTimeoutMs?: number;
}

interface Running<C extends Component> {
  label: string;
  cfg: ComponentConfig;
  component: C;
  /** Processors: the pipeline this instance belongs to. */
  pipeline?: string;
}

interface BuiltPipeline {
  id: string;
  /** http first, then span processors. */
  processors: Array<Running<ChunkProcessorComponent | SpanProcessorComponent>>;
}

export class Service {
  private readonly logger: Logger;
  private readonly timeoutMs: number;
  private readonly receivers = new Map<string, Running<ReceiverComponent>>();
  private readonly exporters = new Map<string, Running<ExporterComponent>>();
  private readonly pipelines: BuiltPipeline[] = [];
  private readonly startedComponents = new Set<Component>();
  private shutdownPromise: Promise<Summary> | undefined;

  constructor(
    private readonly config: CollectorConfig,
    opts: ServiceOptions,
  ) {
    this.logger = opts.logger;
    this.timeoutMs = opts.componentShutdownTimeoutMs ?? 15_000;
    this.build();
  }

  private create<C extends Component>(cfg: ComponentConfig, label: string, next: unknown, more: Partial<CreateContext> = {}): Running<C> {
    const component = cfg.factory.create(cfg.config, { id: cfg.id, logger: this.logger.child(label), ...more }, next) as C;
    return { label, cfg, component };
  }

  /** Back to front, as the Collector does: each component is created with its next consumer. */
  private build() {
    const c = this.config;
    for (const id of new Set(c.pipelines.flatMap((p) => p.exporters))) {
      this.exporters.set(id, this.create<ExporterComponent>(c.exporters.get(id)!, `exporter/${id}`, undefined));
    }
    const chunkTargets = new Map<string, Array<{ id: string; consumer: ChunkConsumer }>>();
    for (const p of c.pipelines) {
      const label = (id: string) => (c.pipelines.length > 1 ? `processor/${id}@${p.id}` : `processor/${id}`);
      const exporters = p.exporters.map((id) => ({ id: `exporter/${id}`, consumer: this.exporters.get(id)!.component }));
      let next: SpanConsumer = exporters.length === 1 ? exporters[0]!.consumer : new SpanFanout(exporters, this.logger.child(`pipeline/${p.id}`));
      // Span processors last to first, each handing on to the one after it, the last to the exporters.
      const processors: BuiltPipeline['processors'] = [];
      for (const id of p.processors.slice(1).reverse()) {
        const proc = this.create<SpanProcessorComponent>(c.processors.get(id)!, label(id), next);
        processors.unshift({ ...proc, pipeline: p.id });
        next = proc.component;
      }
      // Span processors that read bodies (genai) make the http processor keep them (never exported).
      const bodiesReadBy = p.processors
        .slice(1)
        .filter((id) => c.processors.get(id)!.factory.capabilities?.readsBodies)
        .map(label);
      const head = this.create<ChunkProcessorComponent>(c.processors.get(p.processors[0]!)!, label(p.processors[0]!), next, { bodiesReadBy });
      processors.unshift({ ...head, pipeline: p.id });
      for (const r of p.receivers) {
        const list = chunkTargets.get(r) ?? [];
        list.push({ id: head.label, consumer: head.component });
        chunkTargets.set(r, list);
      }
      this.pipelines.push({ id: p.id, processors });
    }
    // In-kernel filters derived from the pipelines' filtering processors (domain_filter).
    const pushed = planPushdown(c);
    const created = new Map<string, Running<ReceiverComponent>>();
    const createReceiver = (id: string): Running<ReceiverComponent> => {
      let running = created.get(id);
      if (running) return running;
      const plan = pushed.get(id);
      if (plan) this.logger.info(`receiver/${id}: ${plan.note}`);
      const rcfg = plan ? { ...c.receivers.get(id)!, config: plan.config } : c.receivers.get(id)!;
      // A receiver that joins another's connections (sendfile → tcp) is created after that one, with it.
      const joins = rcfg.factory.capabilities?.joins?.(rcfg.config);
      const joined = joins && chunkTargets.has(joins.receiver) ? createReceiver(joins.receiver).component : undefined;
      const fanout = new ChunkFanout(chunkTargets.get(id)!, this.logger.child(`receiver/${id}`));
      running = this.create<ReceiverComponent>(rcfg, `receiver/${id}`, fanout, joined ? { joined } : {});
      created.set(id, running);
      return running;
    };
    for (const id of chunkTargets.keys()) this.receivers.set(id, createReceiver(id));
  }

  /** Starts everything; resolves once every receiver has started (then logs `ready`). */
  async start(): Promise<void> {
    try {
      for (const e of this.exporters.values()) await this.startOne(e);
      for (const p of this.pipelines) {
        // Downstream first, so a processor's consumer is running before it hands anything on.
        for (const proc of [...p.processors].reverse()) await this.startOne(proc);
      }
    } catch (e) {
      await this.shutdown();
      throw e;
    }

    const receivers = [...this.receivers.values()];
    const results = await Promise.allSettled(receivers.map((r) => r.component.start()));
    const failed = results.flatMap((res, i) => (res.status === 'rejected' ? [{ r: receivers[i]!, err: res.reason as Error }] : []));
    receivers.forEach((r, i) => results[i]!.status === 'fulfilled' && this.startedComponents.add(r.component));
    for (const f of failed) if (!(f.err instanceof UserError || f.err instanceof ConfigError)) this.logger.debug(`${f.r.label}: ${f.err.stack}`);
    if (failed.length === receivers.length) {
      // Nothing can run: the caller reports the reason once (no log line repeating it here).
      await this.shutdown();
      const first = failed[0]!.err;
      if (failed.length === 1 && (first instanceof UserError || first instanceof ConfigError)) throw first;
      throw new UserError(`no receiver could start: ${failed.map((f) => `${f.r.label}: ${f.err.message}`).join('; ')}`);
    }
    // Failure isolation: the receivers that did start keep running; say which did not.
    for (const f of failed) this.logger.error(`${f.r.label} did not start: ${f.err.message}`);
    const running = receivers.length - failed.length;
    this.logger.info(
      `ready: ${this.pipelines.length} pipeline(s), ${running} of ${receivers.length} receiver(s) running` +
        ` (${this.config.pipelines.map((p) => `${p.id}: ${[p.receivers.join('+'), ...p.processors, p.exporters.join('+')].join(' → ')}`).join('; ')})`,
    );
  }

  private async startOne(r: Running<Component>) {
    try {
      await r.component.start();
      this.startedComponents.add(r.component);
      this.logger.debug(`${r.label} started`);
    } catch (e) {
      if (e instanceof UserError || e instanceof ConfigError) throw e;
      this.logger.debug(`${r.label} start failed: ${(e as Error).stack ?? e}`);
      throw new UserError(`${r.label} failed to start: ${(e as Error).message}`);
    }
  }

  /** Stops everything (idempotent) and returns the summary. */
  shutdown(): Promise<Summary> {
    this.shutdownPromise ??= this.stopAll();
    return this.shutdownPromise;
  }

  private async stopAll(): Promise<Summary> {
    await Promise.all([...this.receivers.values()].map((r) => this.stopOne(r)));
    // Processors of one pipeline in order, so what the first flushes reaches the next before it flushes.
    await Promise.all(
      this.pipelines.map(async (p) => {
        for (const proc of p.processors) await this.stopOne(proc);
      }),
    );
    await Promise.all([...this.exporters.values()].map((e) => this.stopOne(e)));
    return this.summary();
  }

  private async stopOne(r: Running<Component>) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.timeoutMs)));
    const t0 = Date.now();
    try {
      // shutdown() is safe without start(): it also releases what create() acquired.
      const outcome = await Promise.race([r.component.shutdown().then(() => 'done' as const), timeout]);
      if (outcome === 'timeout') this.logger.warn(`${r.label} did not shut down within ${this.timeoutMs}ms; moving on`);
      else this.logger.debug(`${r.label} stopped in ${Date.now() - t0}ms`);
    } catch (e) {
      this.logger.error(`${r.label} failed to shut down: ${(e as Error).stack ?? e}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stats of every component, for the summary and the self-metrics. */
  componentStats(): ComponentStats[] {
    const all: Array<Running<Component>> = [...this.receivers.values(), ...this.pipelines.flatMap((p) => p.processors), ...this.exporters.values()];
    return all.map((r) => {
      let stats = {};
      try {
        stats = r.component.stats();
      } catch (e) {
        this.logger.warn(`${r.label}: stats() failed: ${(e as Error).message}`);
      }
      // A receiver that says which kernel backend it runs on gets it as a label.
      const backend = r.cfg.factory.capabilities?.backend?.(r.component);
      return {
        label: r.label,
        kind: r.cfg.kind,
        stage: r.cfg.factory.stage,
        id: r.cfg.id,
        ...(r.pipeline ? { pipeline: r.pipeline } : {}),
        ...(typeof backend === 'string' && backend ? { backend } : {}),
        stats,
      };
    });
  }

  summary(): Summary {
    return summarize(this.componentStats());
  }
}
