// The `redaction` processor: removes or masks secrets before any exporter sees a span. See
// README.md in this folder. Runs on attributes only (SpanRecord.internal is never exported).

import type { ComponentFactory, CreateContext, SpanProcessorComponent, Stats } from '../../core/component';
import type { Resource, SpanConsumer, SpanRecord } from '../../core/types';
import { ConfigError } from '../../core/component';
import { eachChecked, join, parseSection, type SectionSpec } from '../../config/schema';
import { redactQuery, redactUrl } from '../../shared/url-redaction';
import { REDACTED, makePolicy, namePattern, redactText, type PolicyConfig, type RedactionPolicy } from '../../shared/redaction-rules';
import { redactArgs, redactCommandLine } from '../../shared/command-line-redaction';

export interface RedactionConfig extends PolicyConfig {
  header_action: 'mask' | 'remove';
  /** Attribute keys (globs) removed outright. */
  remove_attributes: string[];
  /** Attribute keys (globs) whose text is scrubbed like a body. */
  body_attributes: string[];
  command_line: boolean;
  summary: boolean;
}

const names = (doc: string) => ({ type: 'list' as const, of: { type: 'string' as const }, default: [], doc });

export const redactionSpec: SectionSpec = {
  headers: names('header names (globs or /regexp/) redacted besides the defaults (authorization, cookie, set-cookie, *api-key, *token*, ...)'),
  allow_headers: names('header names never redacted (override the defaults)'),
  header_action: { type: 'string', default: 'mask', enum: ['mask', 'remove'], doc: 'mask: the value becomes REDACTED; remove: the attribute goes' },
  body_keys: names('JSON / form field names (globs or /regexp/) redacted in bodies besides the defaults (password, secret, token, api_key, ...)'),
  allow_body_keys: names('JSON / form field names never redacted'),
  query_params: names('query parameter names redacted in url.full / url.query besides the built-in list'),
  allow_query_params: names('query parameter names never redacted'),
  body_attributes: names('more attribute keys (globs) scrubbed like bodies (the body and gen_ai message attributes always are)'),
  remove_attributes: names('attribute keys (globs) removed from every span'),
  command_line: { type: 'bool', default: true, doc: 'redact every argument of process.command_line (when the http processor exports it) with these rules' },
  summary: { type: 'bool', default: true, doc: 'tcpsniff.redacted (what) and tcpsniff.redacted.count on spans where something was redacted' },
};

/** Attributes scrubbed as body text. */
const BODY_ATTRIBUTES = [
  'http.request.body.content',
  'http.response.body.content',
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
];
const HEADER_PREFIXES = ['http.request.header.', 'http.response.header.'];
/**
 * What redaction does to an attribute, by its key alone: decided once per key, since keys are a
 * small set of names (conventions, captured headers), so a span costs a lookup per attribute
 * rather than the pattern tests. Bounded, in case some processor makes keys from data.
 */
type KeyRule = 'remove' | 'header' | 'url.full' | 'url.query' | 'body' | 'none';
const KEY_RULES_MAX = 4096;
export const ATTR_REDACTED = 'tcpsniff.redacted';
export const ATTR_REDACTED_COUNT = 'tcpsniff.redacted.count';

function parseRedactionConfig(raw: unknown, path: string): RedactionConfig {
  const cfg = parseSection<RedactionConfig>(raw, path, redactionSpec);
  const keys = [
    'headers',
    'allow_headers',
    'body_keys',
    'allow_body_keys',
    'query_params',
    'allow_query_params',
    'body_attributes',
    'remove_attributes',
  ] as const;
  const patterns = keys.flatMap((key) => cfg[key].map((p, i) => ({ p, at: join(join(path, key), i) })));
  eachChecked(patterns, ({ p, at }) => {
    try {
      namePattern(p);
    } catch (e) {
      throw new ConfigError(at, `invalid pattern ${JSON.stringify(p)}: ${(e as Error).message}`);
    }
  });
  return cfg;
}

export class RedactionProcessor implements SpanProcessorComponent {
  private readonly policy: RedactionPolicy;
  private readonly bodyAttr: (k: string) => boolean;
  private readonly removeAttr: (k: string) => boolean;
  private readonly resources = new WeakMap<Resource, Resource>();
  private readonly keyRules = new Map<string, KeyRule>();
  private readonly n = { spans: 0, redactedSpans: 0, values: 0, headers: 0, bodyFields: 0, urls: 0, removed: 0, source: 0, commandLines: 0 };

  constructor(
    private readonly cfg: RedactionConfig,
    _ctx: CreateContext,
    private readonly next: SpanConsumer,
  ) {
    this.policy = makePolicy(cfg);
    const extraBody = cfg.body_attributes.map(namePattern);
    this.bodyAttr = (k) => BODY_ATTRIBUTES.includes(k) || extraBody.some((m) => m(k));
    const remove = cfg.remove_attributes.map(namePattern);
    this.removeAttr = (k) => remove.some((m) => m(k));
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  consumeSpans(spans: SpanRecord[]): void {
    for (const s of spans) this.redact(s);
    this.next.consumeSpans(spans);
  }

  /** Redacts one span in place. */
  redact(span: SpanRecord): void {
    this.n.spans++;
    const what: string[] = [];
    let count = 0;
    const a = span.attributes;
    for (const key of Object.keys(a)) {
      const rule = this.ruleOf(key);
      if (rule === 'none') continue;
      const v = a[key]!;
      if (rule === 'remove') {
        delete a[key];
        this.n.removed++;
        what.push(key);
        count++;
        continue;
      }
      if (rule === 'header') {
        this.n.headers++;
        what.push(key);
        count += Array.isArray(v) ? v.length : 1;
        if (this.cfg.header_action === 'remove') delete a[key];
        else a[key] = Array.isArray(v) ? (v as unknown[]).map(() => REDACTED) : REDACTED;
        continue;
      }
      if (typeof v !== 'string') continue;
      if (rule === 'url.full' || rule === 'url.query') {
        const out = rule === 'url.full' ? redactUrl(v, this.policy.queryParam) : redactQuery(v, this.policy.queryParam);
        // Already redacted by the http processor (the same built-in list) or here: both are reported.
        const hits = countRedacted(out);
        if (out !== v) a[key] = out;
        if (hits > 0) {
          this.n.urls++;
          what.push(key);
          count += hits;
        }
        continue;
      }
      if (a[`${key}.encoding`] !== 'base64') {
        const r = redactText(v, this.policy);
        if (r.fields.length > 0) {
          a[key] = r.text;
          this.n.bodyFields += r.fields.length;
          for (const f of new Set(r.fields)) what.push(`${key}#${f}`);
          count += r.fields.length;
        }
      }
    }
    for (const key of span.internal?.redactedAtSource ?? []) {
      // HPACK never-indexed values, replaced by the http processor before they reached a span.
      if (!what.includes(key)) what.push(key);
      this.n.source++;
      count++;
    }
    if (this.cfg.command_line) span.resource = this.resourceOf(span.resource, span.internal?.processArgs);
    if (count > 0) {
      this.n.redactedSpans++;
      this.n.values += count;
      if (this.cfg.summary) {
        a[ATTR_REDACTED] = what;
        a[ATTR_REDACTED_COUNT] = count;
      }
    }
  }

  private ruleOf(key: string): KeyRule {
    let rule = this.keyRules.get(key);
    if (rule === undefined) {
      rule = this.judgeKey(key);
      if (this.keyRules.size < KEY_RULES_MAX) this.keyRules.set(key, rule);
    }
    return rule;
  }

  private judgeKey(key: string): KeyRule {
    if (this.removeAttr(key)) return 'remove';
    const prefix = HEADER_PREFIXES.find((p) => key.startsWith(p));
    if (prefix !== undefined) return this.policy.header(key.slice(prefix.length)) ? 'header' : 'none';
    if (key === 'url.full' || key === 'url.query') return key;
    return this.bodyAttr(key) ? 'body' : 'none';
  }

  /**
   * The resource with its command line redacted by this policy: from the raw argv when the span
   * has it (the http processor's own redaction used the defaults), else word by word.
   */
  private resourceOf(r: Resource, args: readonly string[] | undefined): Resource {
    const cached = this.resources.get(r);
    if (cached !== undefined) return cached;
    let out = r;
    const cmd = r.attributes['process.command_line'];
    if (typeof cmd === 'string') {
      const argv = args !== undefined && args.length > 0 ? args : undefined;
      const clean = argv !== undefined ? redactArgs(argv, this.policy).join(' ') : redactCommandLine(cmd, this.policy);
      if (clean !== (argv?.join(' ') ?? cmd)) this.n.commandLines++;
      if (clean !== cmd) out = { attributes: { ...r.attributes, 'process.command_line': clean } };
    }
    this.resources.set(r, out);
    this.resources.set(out, out);
    return out;
  }

  stats(): Stats {
    return {
      'spans.in': this.n.spans,
      'spans.redacted': this.n.redactedSpans,
      'values.redacted': this.n.values,
      'values.headers': this.n.headers,
      'values.body_fields': this.n.bodyFields,
      'values.urls': this.n.urls,
      'values.removed_attributes': this.n.removed,
      'values.never_indexed': this.n.source,
      'resources.command_lines': this.n.commandLines,
    };
  }
}

function countRedacted(s: string): number {
  let n = 0;
  for (let i = s.indexOf(REDACTED); i >= 0; i = s.indexOf(REDACTED, i + 1)) n++;
  return s.includes(`${REDACTED}:${REDACTED}@`) ? n - 1 : n;
}

export const redactionProcessorFactory: ComponentFactory<RedactionConfig, RedactionProcessor, SpanConsumer> & { spec: SectionSpec } = {
  type: 'redaction',
  kind: 'processor',
  stage: 'spans',
  description:
    'removes or masks secrets (auth/cookie/API-key headers, URL credentials, secret body fields, never-indexed HPACK fields) and says what on the span',
  spec: redactionSpec,
  parseConfig: (raw, path) => parseRedactionConfig(raw, path),
  create: (cfg, ctx, next) => new RedactionProcessor(cfg, ctx, next),
};
