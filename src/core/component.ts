// Component model, after the OpenTelemetry Collector: each component type has a factory
// (type, default config, validation, declared capabilities, create). A component gets its next
// consumer when it is created. start() returns quickly; shutdown() is idempotent, safe without
// start(), and flushes what the component holds.

import type { ChunkConsumer, SpanConsumer } from './types';
import type { Logger } from './logger';

export type ComponentKind = 'receiver' | 'processor' | 'exporter';

/** A named counter set, reported in the exit summary and (later) as self-metrics. */
export type Stats = Record<string, number>;

export interface Component {
  start(): Promise<void>;
  shutdown(): Promise<void>;
  /** Counters, drops included (keys like 'drops.queue_full'). */
  stats(): Stats;
}

export interface CreateContext {
  /** Component ID, `type[/name]`. */
  id: string;
  logger: Logger;
  /** For a receiver that joins another's connections (Capabilities.joins): that receiver, created before it. */
  joined?: ReceiverComponent;
  /**
   * For a chunk processor: the span processors after it in its pipeline that read bodies
   * (Capabilities.readsBodies), by label; it keeps bodies for them. Empty or absent: none do.
   */
  bodiesReadBy?: readonly string[];
}

/** Captures chunks and hands them to the consumer it was created with. */
export type ReceiverComponent = Component;

/** Turns captured bytes into spans (the http processor). Always first in a pipeline. */
export interface ChunkProcessorComponent extends Component, ChunkConsumer {}

/**
 * What a span processor drops for sure unless a connection matches, in the terms of the tcp
 * receiver's in-kernel filters (kinds AND, entries OR): the service may push it down into the
 * receivers that feed only such pipelines.
 */
export interface KernelFilter {
  /** A connection must have one of these ports (local or remote). */
  ports?: number[];
  /** A connection must have an endpoint in one of these IPs / CIDRs. */
  addresses?: string[];
}

/** Works on spans (genai, redaction, batch, ...). */
export interface SpanProcessorComponent extends Component, SpanConsumer {}

export interface ExporterComponent extends Component, SpanConsumer {}

/**
 * What a component needs from the service, or offers it, declared on its factory: one typed field
 * per need, read while the service builds the pipelines (never looked for on instances). A need
 * the service meets at creation arrives in CreateContext. A new need is a new field here.
 */
export interface Capabilities<Cfg = unknown, C extends Component = Component> {
  /**
   * Span processor: reads SpanRecord.internal request/response bodies; the pipeline's chunk
   * processor is told so at creation (CreateContext.bodiesReadBy) and keeps them.
   */
  readsBodies?: boolean;
  /**
   * Span processor: a filter every span it lets through satisfies, in the terms of the receivers'
   * in-kernel filters, or null when it has none the kernel can apply. The service pushes it down
   * into receivers with `kernelFilters` that feed only such pipelines (src/pushdown.ts).
   */
  kernelFilter?(cfg: Cfg): KernelFilter | null;
  /** Receiver: its config's `ports` and `addresses` are filters applied in the kernel, which a pushed-down KernelFilter narrows. */
  kernelFilters?: boolean;
  /** Receiver: the kernel backend the component runs on ('' while none), a label of its stats. */
  backend?(component: C): string;
  /**
   * Receiver whose records join another receiver's connections (sendfile → tcp): that receiver's
   * ID, the type it must have, and the key of this section that names it. Pipelines that list
   * this receiver must list that one too.
   */
  joins?(cfg: Cfg): { receiver: string; type: string; key: string };
}

/**
 * `Next`: what the component hands its output to, given at creation (never set later): receivers a
 * ChunkConsumer, processors a SpanConsumer; exporters are last and get none.
 */
export interface ComponentFactory<Cfg = unknown, C extends Component = Component, Next = void> {
  type: string;
  kind: ComponentKind;
  /** For processors: what they consume. */
  stage?: 'chunks' | 'spans';
  /** One line for --help. */
  description: string;
  /** More for `help <type>`: how it works, what it needs, what happens without it. */
  details?: string;
  /**
   * Checks the user's section (already env-substituted; undefined/null means "all defaults")
   * and returns the full config: defaults first, user keys on top. Throws ConfigError naming
   * the path (e.g. `processors::http::max_body_bytes`) on unknown keys or bad values.
   */
  parseConfig(raw: unknown, path: string): Cfg;
  capabilities?: Capabilities<Cfg, C>;
  /**
   * The service builds a pipeline back to front (exporters, processors in reverse, receivers), so
   * `next` already exists; a component hands on to it and to nothing else.
   */
  create(cfg: Cfg, ctx: CreateContext, next: Next): C;
}

/** A user-facing configuration error; the CLI prints it without a stack trace. */
export class ConfigError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(path ? `${path}: ${detail}` : detail);
    this.name = 'ConfigError';
  }
}

/** Every error found in one configuration, reported together (one line each). */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: ConfigError[]) {
    super('', errors.map((e) => e.message).join('\n'));
    this.name = 'ConfigErrors';
  }
}

/** An error meant for the user (missing privileges, unsupported kernel...), printed without a stack. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
