// Recognises LLM API exchanges by content and extracts what the GenAI conventions ask for.
// Request: the path (any host/port) and the JSON body; response: JSON, SSE, NDJSON or a JSON
// array, decoded (content-encoding gzip/deflate/br) from the bodies the http processor kept.

import { StringDecoder } from 'node:string_decoder';
import * as zlib from 'node:zlib';
import type { InspectedBody } from '../../core/types';
import * as S from './semconv';
import { NdjsonParser, SseParser, type StreamEvent } from './stream';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export type Api =
  | 'openai.chat_completions'
  | 'openai.completions'
  | 'openai.embeddings'
  | 'openai.responses'
  | 'anthropic.messages'
  | 'ollama.chat'
  | 'ollama.generate'
  | 'ollama.embed'
  | 'gemini.generate_content';

const API_INFO: Record<Api, { provider: string; operation: string }> = {
  'openai.chat_completions': { provider: S.PROVIDER_OPENAI, operation: S.OP_CHAT },
  'openai.completions': { provider: S.PROVIDER_OPENAI, operation: S.OP_TEXT_COMPLETION },
  'openai.embeddings': { provider: S.PROVIDER_OPENAI, operation: S.OP_EMBEDDINGS },
  'openai.responses': { provider: S.PROVIDER_OPENAI, operation: S.OP_CHAT },
  'anthropic.messages': { provider: S.PROVIDER_ANTHROPIC, operation: S.OP_CHAT },
  'ollama.chat': { provider: S.PROVIDER_OLLAMA, operation: S.OP_CHAT },
  'ollama.generate': { provider: S.PROVIDER_OLLAMA, operation: S.OP_TEXT_COMPLETION },
  'ollama.embed': { provider: S.PROVIDER_OLLAMA, operation: S.OP_EMBEDDINGS },
  'gemini.generate_content': { provider: S.PROVIDER_GEMINI, operation: S.OP_GENERATE_CONTENT },
};

export interface GenAiCall {
  api: Api;
  provider: string;
  operation: string;
  requestModel?: string;
  stream: boolean;
  /** gen_ai.request.* values. */
  params: Record<string, string | number | boolean | string[]>;
  responseId?: string;
  responseModel?: string;
  finishReasons: string[];
  inputTokens?: number;
  outputTokens?: number;
  cacheRead?: number;
  cacheCreation?: number;
  /** Streams: chunks, and the capture time of the first. */
  chunks: number;
  firstChunkTime?: bigint;
  /** Output text (assembled from deltas for streams). */
  output: string;
  /** The request's messages / prompt / contents / input, and system instructions (for content capture). */
  input?: unknown;
  system?: unknown;
  partial: boolean;
  outputType?: string;
}

/** The API a request is for: by path first, then by the body's shape. */
export function recognizeRequest(path: string, body: unknown): { api: Api; model?: string } | null {
  const p = path.split('?')[0]!.replace(/\/+$/, '');
  const gem = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(p);
  if (gem && isObj(body) && Array.isArray(body.contents)) return { api: 'gemini.generate_content', model: decodeURIComponent(gem[1]!) };
  if (!isObj(body)) return null;
  const model = str(body.model);
  if (p.endsWith('/api/chat') && Array.isArray(body.messages) && model) return { api: 'ollama.chat', model };
  if (p.endsWith('/api/generate') && model) return { api: 'ollama.generate', model };
  if ((p.endsWith('/api/embed') || p.endsWith('/api/embeddings')) && model) return { api: 'ollama.embed', model };
  if (!model) return null;
  if (p.endsWith('/chat/completions') && Array.isArray(body.messages)) return { api: 'openai.chat_completions', model };
  if (p.endsWith('/completions') && body.prompt !== undefined) return { api: 'openai.completions', model };
  if (p.endsWith('/embeddings') && body.input !== undefined) return { api: 'openai.embeddings', model };
  if (p.endsWith('/responses') && (body.input !== undefined || body.instructions !== undefined)) return { api: 'openai.responses', model };
  if (p.endsWith('/messages') && Array.isArray(body.messages)) return { api: 'anthropic.messages', model };
  // Paths rewritten by a gateway: the body's shape.
  if (Array.isArray(body.messages)) {
    if (typeof body.max_tokens === 'number' && (body.system !== undefined || typeof body.anthropic_version === 'string'))
      return { api: 'anthropic.messages', model };
    return { api: 'openai.chat_completions', model };
  }
  return null;
}

/** Anthropic and OpenAI chat share a request shape; the response tells them apart. */
function refineByResponse(api: Api, first: unknown): Api {
  if (!isObj(first)) return api;
  if (api === 'openai.chat_completions' && (first.type === 'message' || first.type === 'message_start')) return 'anthropic.messages';
  if (api === 'openai.chat_completions' && typeof first.done === 'boolean' && isObj(first.message)) return 'ollama.chat';
  return api;
}

/** Decoded text of a kept body (content-encoding undone; truncated streams decoded as far as possible). */
export function bodyBuffer(b: InspectedBody): { buf: Buffer; partial: boolean } {
  const raw = b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts);
  const enc = b.contentEncoding;
  if (enc === undefined || enc === 'identity' || raw.length === 0) return { buf: raw, partial: b.truncated };
  const opts = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: 16 * 1024 * 1024 };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return { buf: zlib.gunzipSync(raw, opts), partial: b.truncated };
    if (enc === 'deflate') return { buf: zlib.inflateSync(raw, opts), partial: b.truncated };
    if (enc === 'br')
      return {
        buf: zlib.brotliDecompressSync(raw, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH, maxOutputLength: opts.maxOutputLength }),
        partial: b.truncated,
      };
  } catch {
    return { buf: Buffer.alloc(0), partial: true };
  }
  return { buf: Buffer.alloc(0), partial: true }; // unknown coding
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Events of a response body, by content type (or by its first bytes). */
export function responseEvents(b: InspectedBody): { events: StreamEvent[]; kind: 'sse' | 'ndjson' | 'json'; partial: boolean } {
  const ct = (b.contentType ?? '').toLowerCase();
  const encoded = b.contentEncoding !== undefined && b.contentEncoding !== 'identity';
  const { buf, partial } = bodyBuffer(b);
  // Piece by piece with their times when the bytes are as captured; else all at the last time.
  const pieces: Array<[Buffer, bigint]> =
    encoded || b.times.length !== b.parts.length ? [[buf, b.times[b.times.length - 1] ?? 0n]] : b.parts.map((p, i) => [p, b.times[i]!]);
  const head = buf.subarray(0, 64).toString('utf8').trimStart();
  const kind =
    ct.includes('event-stream') || /^(data|event|id|retry):/.test(head) || head.startsWith(':')
      ? 'sse'
      : ct.includes('ndjson') || (/^\{/.test(head) && /\}\s*\n\s*\{/.test(buf.subarray(0, 1 << 20).toString('utf8')))
        ? 'ndjson'
        : 'json';
  const dec = new StringDecoder('utf8');
  if (kind === 'sse') {
    const p = new SseParser();
    for (const [piece, t] of pieces) p.push(dec.write(piece), t);
    p.push(dec.end(), pieces[pieces.length - 1]?.[1] ?? 0n);
    p.end();
    return { events: p.events, kind, partial };
  }
  if (kind === 'ndjson') {
    const p = new NdjsonParser();
    for (const [piece, t] of pieces) p.push(dec.write(piece), t);
    p.push(dec.end(), 0n);
    p.end(pieces[pieces.length - 1]?.[1] ?? 0n);
    return { events: p.events, kind, partial };
  }
  return { events: [{ event: '', data: buf.toString('utf8'), time: pieces[pieces.length - 1]?.[1] ?? 0n }], kind, partial };
}

/** Everything the conventions ask for, from a recognised request and its response (if any). */
export function analyze(path: string, reqBody: unknown, res: InspectedBody | undefined, reqPartial: boolean): GenAiCall | null {
  const rec = recognizeRequest(path, reqBody);
  if (rec === null) return null;
  const body = reqBody as Json;
  let api = rec.api;
  const call: GenAiCall = {
    api,
    ...API_INFO[api],
    stream: false,
    params: {},
    finishReasons: [],
    chunks: 0,
    output: '',
    partial: reqPartial,
  };
  if (rec.model !== undefined) call.requestModel = rec.model;
  requestParams(call, body, path);

  if (res !== undefined) {
    const { events, kind, partial } = responseEvents(res);
    if (partial) call.partial = true;
    let values: Array<{ v: unknown; e: StreamEvent }> = [];
    for (const e of events) {
      if (kind === 'sse' && e.data.trim() === '[DONE]') continue;
      const v = parseJson(e.data);
      if (v === undefined) {
        call.partial = true;
        continue;
      }
      if (kind === 'json' && Array.isArray(v)) values.push(...v.map((x) => ({ v: x, e })));
      else values.push({ v, e });
    }
    if (kind === 'json' && values.length === 1 && Array.isArray(parseJson(events[0]!.data))) call.stream = true;
    if (values.length > 0) {
      api = refineByResponse(api, values[0]!.v);
      if (api !== call.api) Object.assign(call, { api, ...API_INFO[api] });
    }
    if (kind !== 'json' || values.length > 1) {
      call.stream = true;
      call.chunks = values.length;
      if (values.length > 0) call.firstChunkTime = values[0]!.e.time;
    }
    if (kind !== 'json' && values.length === 0) values = [];
    for (const { v, e } of values) if (isObj(v)) absorb(call, v, e.event);
  }
  return call;
}

function requestParams(call: GenAiCall, b: Json, path: string): void {
  const P = call.params;
  const set = (k: string, v: unknown) => {
    if (typeof v === 'number' && Number.isFinite(v)) P[k] = v;
    else if (typeof v === 'boolean') P[k] = v;
  };
  const stops = (v: unknown) => {
    if (typeof v === 'string') P[S.ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = [v];
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) P[S.ATTR_GEN_AI_REQUEST_STOP_SEQUENCES] = v as string[];
  };
  switch (call.api) {
    case 'gemini.generate_content': {
      const g = isObj(b.generationConfig) ? b.generationConfig : {};
      set(S.ATTR_GEN_AI_REQUEST_MAX_TOKENS, g.maxOutputTokens);
      set(S.ATTR_GEN_AI_REQUEST_TEMPERATURE, g.temperature);
      set(S.ATTR_GEN_AI_REQUEST_TOP_P, g.topP);
      set(S.ATTR_GEN_AI_REQUEST_TOP_K, g.topK);
      set(S.ATTR_GEN_AI_REQUEST_CHOICE_COUNT, g.candidateCount);
      stops(g.stopSequences);
      call.stream = /:streamGenerateContent/.test(path);
      call.input = b.contents;
      if (b.systemInstruction !== undefined) call.system = b.systemInstruction;
      break;
    }
    case 'ollama.chat':
    case 'ollama.generate':
    case 'ollama.embed': {
      const o = isObj(b.options) ? b.options : {};
      set(S.ATTR_GEN_AI_REQUEST_MAX_TOKENS, o.num_predict);
      set(S.ATTR_GEN_AI_REQUEST_TEMPERATURE, o.temperature);
      set(S.ATTR_GEN_AI_REQUEST_TOP_P, o.top_p);
      set(S.ATTR_GEN_AI_REQUEST_TOP_K, o.top_k);
      set(S.ATTR_GEN_AI_REQUEST_SEED, o.seed);
      stops(o.stop);
      // Ollama streams unless told not to (embed never streams).
      call.stream = call.api !== 'ollama.embed' && b.stream !== false;
      call.input = b.messages ?? b.prompt ?? b.input;
      if (b.system !== undefined) call.system = b.system;
      break;
    }
    default: {
      set(S.ATTR_GEN_AI_REQUEST_MAX_TOKENS, b.max_tokens ?? b.max_completion_tokens ?? b.max_output_tokens);
      set(S.ATTR_GEN_AI_REQUEST_TEMPERATURE, b.temperature);
      set(S.ATTR_GEN_AI_REQUEST_TOP_P, b.top_p);
      set(S.ATTR_GEN_AI_REQUEST_TOP_K, b.top_k);
      set(S.ATTR_GEN_AI_REQUEST_FREQUENCY_PENALTY, b.frequency_penalty);
      set(S.ATTR_GEN_AI_REQUEST_PRESENCE_PENALTY, b.presence_penalty);
      set(S.ATTR_GEN_AI_REQUEST_SEED, b.seed);
      if (typeof b.n === 'number' && b.n !== 1) set(S.ATTR_GEN_AI_REQUEST_CHOICE_COUNT, b.n);
      stops(b.stop ?? b.stop_sequences);
      if (typeof b.encoding_format === 'string') P[S.ATTR_GEN_AI_REQUEST_ENCODING_FORMATS] = [b.encoding_format];
      call.stream = b.stream === true;
      call.input = b.messages ?? b.prompt ?? b.input;
      if (b.system !== undefined) call.system = b.system;
      else if (b.instructions !== undefined) call.system = b.instructions;
    }
  }
  P[S.ATTR_GEN_AI_REQUEST_STREAM] = call.stream;
  if (call.operation === S.OP_EMBEDDINGS) delete P[S.ATTR_GEN_AI_REQUEST_STREAM];
}

const addReason = (call: GenAiCall, r: unknown) => {
  if (typeof r === 'string' && r !== '') call.finishReasons.push(r);
};

/** Folds one response object (a whole response, or one stream chunk) into the call. */
function absorb(call: GenAiCall, v: Json, event: string): void {
  switch (call.api) {
    case 'anthropic.messages': {
      const type = str(v.type) ?? event;
      const msg = type === 'message_start' && isObj(v.message) ? v.message : type === 'message' ? v : null;
      if (msg !== null) {
        call.responseId ??= str(msg.id);
        call.responseModel ??= str(msg.model);
        usageAnthropic(call, msg.usage);
        addReason(call, msg.stop_reason);
        if (Array.isArray(msg.content)) for (const c of msg.content) if (isObj(c) && typeof c.text === 'string') call.output += c.text;
      } else if (type === 'message_delta') {
        if (isObj(v.delta)) addReason(call, v.delta.stop_reason);
        usageAnthropic(call, v.usage);
      } else if (type === 'content_block_delta' && isObj(v.delta) && typeof v.delta.text === 'string') call.output += v.delta.text;
      break;
    }
    case 'ollama.chat':
    case 'ollama.generate':
    case 'ollama.embed': {
      call.responseModel ??= str(v.model);
      if (isObj(v.message) && typeof v.message.content === 'string') call.output += v.message.content;
      if (typeof v.response === 'string') call.output += v.response;
      if (v.done === true) addReason(call, v.done_reason ?? 'stop');
      if (num(v.prompt_eval_count) !== undefined) call.inputTokens = num(v.prompt_eval_count);
      if (num(v.eval_count) !== undefined) call.outputTokens = num(v.eval_count);
      break;
    }
    case 'gemini.generate_content': {
      call.responseId ??= str(v.responseId);
      call.responseModel ??= str(v.modelVersion);
      if (Array.isArray(v.candidates))
        for (const c of v.candidates) {
          if (!isObj(c)) continue;
          addReason(call, c.finishReason);
          if (isObj(c.content) && Array.isArray(c.content.parts))
            for (const p of c.content.parts) if (isObj(p) && typeof p.text === 'string') call.output += p.text;
        }
      const u = isObj(v.usageMetadata) ? v.usageMetadata : null;
      if (u !== null) {
        if (num(u.promptTokenCount) !== undefined) call.inputTokens = num(u.promptTokenCount);
        if (num(u.candidatesTokenCount) !== undefined) call.outputTokens = num(u.candidatesTokenCount);
        if (num(u.cachedContentTokenCount) !== undefined) call.cacheRead = num(u.cachedContentTokenCount);
      }
      break;
    }
    case 'openai.responses': {
      const r = isObj(v.response) ? v.response : v.object === 'response' ? v : null;
      if (r !== null) {
        call.responseId ??= str(r.id);
        call.responseModel ??= str(r.model);
        usageOpenAi(call, r.usage);
        if (str(v.type) === 'response.completed' || (v === r && r.status !== undefined)) {
          const reason = isObj(r.incomplete_details) ? r.incomplete_details.reason : r.status;
          addReason(call, reason);
        } else if (str(v.type) === 'response.incomplete' && isObj(r.incomplete_details)) addReason(call, r.incomplete_details.reason);
        if (v === r && Array.isArray(r.output))
          for (const o of r.output)
            if (isObj(o) && Array.isArray(o.content)) for (const c of o.content) if (isObj(c) && typeof c.text === 'string') call.output += c.text;
      }
      if (v.type === 'response.output_text.delta' && typeof v.delta === 'string') call.output += v.delta;
      break;
    }
    default: {
      // OpenAI-compatible chat completions, completions, embeddings (whole responses and chunks).
      call.responseId ??= str(v.id);
      call.responseModel ??= str(v.model);
      if (Array.isArray(v.choices))
        for (const c of v.choices) {
          if (!isObj(c)) continue;
          addReason(call, c.finish_reason);
          const m = isObj(c.delta) ? c.delta : isObj(c.message) ? c.message : null;
          if (m !== null && typeof m.content === 'string') call.output += m.content;
          if (typeof c.text === 'string') call.output += c.text;
        }
      usageOpenAi(call, v.usage);
    }
  }
}

function usageOpenAi(call: GenAiCall, u: unknown): void {
  if (!isObj(u)) return;
  const input = num(u.prompt_tokens) ?? num(u.input_tokens);
  const output = num(u.completion_tokens) ?? num(u.output_tokens);
  if (input !== undefined) call.inputTokens = input;
  if (output !== undefined) call.outputTokens = output;
  const details = isObj(u.prompt_tokens_details) ? u.prompt_tokens_details : isObj(u.input_tokens_details) ? u.input_tokens_details : null;
  if (details !== null && num(details.cached_tokens) !== undefined) call.cacheRead = num(details.cached_tokens);
}

function usageAnthropic(call: GenAiCall, u: unknown): void {
  if (!isObj(u)) return;
  // message_start carries input (and a first output) count; message_delta the final output count.
  if (num(u.input_tokens) !== undefined) call.inputTokens = num(u.input_tokens);
  if (num(u.output_tokens) !== undefined) call.outputTokens = num(u.output_tokens);
  if (num(u.cache_read_input_tokens) !== undefined) call.cacheRead = num(u.cache_read_input_tokens);
  if (num(u.cache_creation_input_tokens) !== undefined) call.cacheCreation = num(u.cache_creation_input_tokens);
}
