// The `genai` processor: recognises LLM API calls in HTTP spans by content and puts the
// OpenTelemetry GenAI conventions on them, with agent attribution. See README.md in this folder.
//
// It reads the request and response bodies the http processor keeps on SpanRecord.internal
// (never exported) — declaring the `readsBodies` capability makes the service create the http
// processor with bodies kept for it —
// and drops them once read.

import type { ComponentFactory, CreateContext, SpanProcessorComponent, Stats } from '../../core/component';
import { ConfigError } from '../../core/component';
import type { Attributes, Resource, SpanConsumer, SpanRecord } from '../../core/types';
import { SpanKind } from '../../core/types';
import { join, parseSection, type SectionSpec } from '../../config/schema';
import { globRegExp } from '../../shared/glob';
import { DEFAULT_POLICY, redactText } from '../../shared/redaction-rules';
import { analyze, bodyBuffer, parseJson, type GenAiCall } from './recognize';
import * as S from './semconv';

export interface AgentRule {
  match: string;
  name: string;
}

export interface GenAiConfig {
  capture_content: boolean;
  max_content_bytes: number;
  agents: AgentRule[];
  agent_from_process: boolean;
}

/**
 * Comms that name a runtime's thread, not the program: Node 24 renames its main thread, whose comm
 * is the process's, to "MainThread" (a program that sets process.title still gets its own name).
 */
const RUNTIME_THREAD_NAMES = new Set(['MainThread']);

export const genaiSpec: SectionSpec = {
  capture_content: {
    type: 'bool',
    default: false,
    doc: 'put prompts and completions on spans (gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions), capped and redacted',
  },
  max_content_bytes: { type: 'bytes', default: 16 * 1024, min: 0, max: 16 * 1024 * 1024, doc: 'cap per content attribute' },
  agents: {
    type: 'list',
    of: { type: 'object', fields: { match: { type: 'string', required: true }, name: { type: 'string', required: true } } },
    default: [],
    doc: 'process command line (glob, or /regexp/) → gen_ai.agent.name, first match wins',
  },
  agent_from_process: {
    type: 'bool',
    default: true,
    doc: 'without a matching rule, the agent name is the process comm (else executable name; a runtime thread name such as MainThread counts as none)',
  },
};

function compileAgents(rules: AgentRule[], path: string): Array<{ test: (cmd: string) => boolean; name: string }> {
  return rules.map((r, i) => {
    const p = r.match;
    if (p.length >= 2 && p.startsWith('/') && p.lastIndexOf('/') > 0) {
      const last = p.lastIndexOf('/');
      try {
        const re = new RegExp(p.slice(1, last), p.slice(last + 1));
        return { test: (c: string) => re.test(c), name: r.name };
      } catch (e) {
        throw new ConfigError(join(join(join(path, 'agents'), i), 'match'), `invalid regular expression ${p}: ${(e as Error).message}`);
      }
    }
    const re = globRegExp(p);
    return { test: (c: string) => re.test(c), name: r.name };
  });
}

export class GenAiProcessor implements SpanProcessorComponent {
  private readonly agents: ReturnType<typeof compileAgents>;
  /** resource → agent name → resource with gen_ai.agent.name. */
  private readonly resources = new WeakMap<Resource, Map<string, Resource>>();
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly cfg: GenAiConfig,
    ctx: CreateContext,
    private readonly next: SpanConsumer,
  ) {
    this.agents = compileAgents(cfg.agents, ctx.id);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  private add(key: string, n = 1): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + n);
  }

  consumeSpans(spans: SpanRecord[]): void {
    for (const s of spans) {
      this.add('spans.in');
      try {
        this.process(s);
      } catch {
        this.add('errors');
      }
      // The bodies were kept for this processor only.
      if (s.internal !== undefined) {
        delete s.internal.request;
        delete s.internal.response;
      }
    }
    this.next.consumeSpans(spans);
  }

  /** Adds GenAI attributes to one span when it is an LLM call; returns the call. */
  process(span: SpanRecord): GenAiCall | null {
    const req = span.internal?.request;
    if (req === undefined) return null;
    const a = span.attributes;
    const path =
      typeof a['url.path'] === 'string' ? `${a['url.path']}${typeof a['url.query'] === 'string' ? `?${a['url.query']}` : ''}` : pathOf(a['url.full']);
    if (path === undefined) return null;
    const { buf, partial } = bodyBuffer(req);
    const body = parseJson(buf.toString('utf8'));
    if (body === undefined) return null;
    const call = analyze(path, body, span.internal?.response, partial);
    if (call === null) return null;
    this.add('calls');
    this.add(`calls.${call.api}`);
    if (call.stream) this.add('calls.streaming');
    if (call.partial) this.add('calls.partial');
    this.apply(span, call);
    return call;
  }

  private apply(span: SpanRecord, call: GenAiCall): void {
    const a = span.attributes;
    a[S.ATTR_GEN_AI_OPERATION_NAME] = call.operation;
    a[S.ATTR_GEN_AI_PROVIDER_NAME] = call.provider;
    a[S.ATTR_TCPSNIFF_GEN_AI_API] = call.api;
    if (call.requestModel !== undefined) a[S.ATTR_GEN_AI_REQUEST_MODEL] = call.requestModel;
    Object.assign(a, call.params);
    if (call.responseId !== undefined) a[S.ATTR_GEN_AI_RESPONSE_ID] = call.responseId;
    if (call.responseModel !== undefined) a[S.ATTR_GEN_AI_RESPONSE_MODEL] = call.responseModel;
    if (call.finishReasons.length > 0) a[S.ATTR_GEN_AI_RESPONSE_FINISH_REASONS] = call.finishReasons;
    if (call.inputTokens !== undefined) a[S.ATTR_GEN_AI_USAGE_INPUT_TOKENS] = call.inputTokens;
    if (call.outputTokens !== undefined) a[S.ATTR_GEN_AI_USAGE_OUTPUT_TOKENS] = call.outputTokens;
    if (call.cacheRead !== undefined) a[S.ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = call.cacheRead;
    if (call.cacheCreation !== undefined) a[S.ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = call.cacheCreation;
    if (call.stream && call.chunks > 0) {
      a[S.ATTR_TCPSNIFF_GEN_AI_CHUNK_COUNT] = call.chunks;
      if (call.firstChunkTime !== undefined && call.firstChunkTime >= span.startTimeUnixNano)
        a[S.ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = Number(call.firstChunkTime - span.startTimeUnixNano) / 1e9;
    }
    if (call.operation !== S.OP_EMBEDDINGS) a[S.ATTR_GEN_AI_OUTPUT_TYPE] = 'text';
    if (call.partial) a[S.ATTR_TCPSNIFF_GEN_AI_PARTIAL] = true;
    span.name = call.requestModel !== undefined ? `${call.operation} ${call.requestModel}` : call.operation;
    if (this.cfg.capture_content) this.content(a, call);
    // The calling process is the agent; the serving side (an LLM server, a gateway's listener) is not.
    if (span.kind === SpanKind.CLIENT) {
      const agent = this.agentOf(span);
      if (agent !== undefined) {
        a[S.ATTR_GEN_AI_AGENT_NAME] = agent;
        span.resource = this.resourceWithAgent(span.resource, agent);
      }
    }
  }

  private content(a: Attributes, call: GenAiCall): void {
    let cut = false;
    const put = (key: string, v: unknown) => {
      if (v === undefined) return;
      let text = redactText(typeof v === 'string' ? v : JSON.stringify(v), DEFAULT_POLICY).text;
      const max = this.cfg.max_content_bytes;
      if (Buffer.byteLength(text) > max) {
        text = Buffer.from(text)
          .subarray(0, max)
          .toString('utf8')
          .replace(/\uFFFD+$/, '');
        cut = true;
      }
      a[key] = text;
    };
    put(S.ATTR_GEN_AI_INPUT_MESSAGES, call.input);
    put(S.ATTR_GEN_AI_SYSTEM_INSTRUCTIONS, call.system);
    if (call.operation !== S.OP_EMBEDDINGS && (call.output !== '' || call.finishReasons.length > 0)) {
      const out: Record<string, unknown> = { role: 'assistant', parts: [{ type: 'text', content: call.output }] };
      if (call.finishReasons[0] !== undefined) out.finish_reason = call.finishReasons[0];
      put(S.ATTR_GEN_AI_OUTPUT_MESSAGES, [out]);
    }
    if (cut) a[S.ATTR_TCPSNIFF_GEN_AI_CONTENT_TRUNCATED] = true;
  }

  private agentOf(span: SpanRecord): string | undefined {
    const r = span.resource.attributes;
    // The raw argv (process.command_line, when exported at all, is redacted).
    const args = span.internal?.processArgs;
    const cmd = args !== undefined && args.length > 0 ? args.join(' ') : typeof r['process.command_line'] === 'string' ? r['process.command_line'] : '';
    for (const rule of this.agents) if (cmd !== '' && rule.test(cmd)) return rule.name;
    if (!this.cfg.agent_from_process) return undefined;
    const comm = span.internal?.comm;
    if (comm !== undefined && comm !== '' && !RUNTIME_THREAD_NAMES.has(comm)) return comm;
    const exe = r['process.executable.name'];
    return typeof exe === 'string' && exe !== '' ? exe : undefined;
  }

  private resourceWithAgent(r: Resource, agent: string): Resource {
    if (r.attributes[S.ATTR_GEN_AI_AGENT_NAME] === agent) return r;
    let m = this.resources.get(r);
    if (m === undefined) this.resources.set(r, (m = new Map()));
    let out = m.get(agent);
    if (out === undefined) {
      out = { attributes: { ...r.attributes, [S.ATTR_GEN_AI_AGENT_NAME]: agent } };
      m.set(agent, out);
    }
    return out;
  }

  stats(): Stats {
    return { 'spans.in': 0, calls: 0, 'calls.streaming': 0, 'calls.partial': 0, errors: 0, ...Object.fromEntries(this.counters) };
  }
}

function pathOf(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^#]*)/i.exec(url);
  return m ? m[1] || '/' : undefined;
}

export const genaiProcessorFactory: ComponentFactory<GenAiConfig, GenAiProcessor, SpanConsumer> & { spec: SectionSpec } = {
  type: 'genai',
  kind: 'processor',
  stage: 'spans',
  description:
    'recognises LLM API calls (OpenAI-compatible, Anthropic, Ollama, Gemini) by content and sets the GenAI conventions: model, tokens, finish reasons, streaming timings, agent',
  spec: genaiSpec,
  parseConfig: (raw, path) => {
    const cfg = parseSection<GenAiConfig>(raw, path, genaiSpec);
    compileAgents(cfg.agents, path);
    return cfg;
  },
  capabilities: { readsBodies: true },
  create: (cfg, ctx, next) => new GenAiProcessor(cfg, ctx, next),
};
