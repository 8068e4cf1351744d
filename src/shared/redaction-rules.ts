// What is treated as secret (the redaction processor's policy; its default is what the http
// processor's command lines and the genai processor's message content are scrubbed with), and the
// text scrubbers. Pure functions; src/processors/redaction/README.md lists the defaults.

import { globRegExp } from './glob';
import { REDACTED, isSensitiveParam, paramName } from './url-redaction';

export { REDACTED };

/** Header names redacted by default (globs, case-insensitive). */
export const DEFAULT_HEADERS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  '*-api-key',
  '*_api_key',
  '*apikey*',
  'x-goog-api-key',
  '*token*',
  '*secret*',
  '*password*',
  '*credential*',
  '*-signature',
  '*session*',
];

/**
 * JSON / form field names redacted by default, matched on the name in snake case (apiKey → api_key):
 * the name, or its last `_` / `-` separated part(s), is one of these. `max_tokens` or
 * `input_tokens` do not match (`tokens` is not `token`).
 */
const DEFAULT_BODY_KEY_RE =
  /(^|[_-])(password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|secret[_-]?key|client[_-]?secret|authorization|auth|credentials?|cookie|session[_-]?id|sessionid|key|signature)$/;

/** "glob" or "/regexp/flags" → predicate on a lower-case name. */
export function namePattern(p: string): (name: string) => boolean {
  if (p.length >= 2 && p.startsWith('/') && p.lastIndexOf('/') > 0) {
    const last = p.lastIndexOf('/');
    const re = new RegExp(p.slice(1, last), p.slice(last + 1) || 'i');
    return (n) => re.test(n);
  }
  const re = globRegExp(p.toLowerCase());
  return (n) => re.test(n);
}

const snake = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

export interface RedactionPolicy {
  header(name: string): boolean;
  bodyKey(name: string): boolean;
  queryParam(rawName: string): boolean;
}

export interface PolicyConfig {
  headers: string[];
  allow_headers: string[];
  body_keys: string[];
  allow_body_keys: string[];
  query_params: string[];
  allow_query_params: string[];
}

export function makePolicy(c: PolicyConfig): RedactionPolicy {
  const headers = [...DEFAULT_HEADERS, ...c.headers].map(namePattern);
  const allowHeaders = c.allow_headers.map(namePattern);
  const bodyKeys = c.body_keys.map(namePattern);
  const allowBody = c.allow_body_keys.map(namePattern);
  const params = c.query_params.map(namePattern);
  const allowParams = c.allow_query_params.map(namePattern);
  return {
    header: (name) => {
      const n = name.toLowerCase();
      return !allowHeaders.some((m) => m(n)) && headers.some((m) => m(n));
    },
    bodyKey: (name) => {
      const n = snake(name);
      if (allowBody.some((m) => m(n) || m(name.toLowerCase()))) return false;
      return DEFAULT_BODY_KEY_RE.test(n) || bodyKeys.some((m) => m(n) || m(name.toLowerCase()));
    },
    queryParam: (raw) => {
      const n = paramName(raw);
      if (allowParams.some((m) => m(n))) return false;
      return isSensitiveParam(raw) || params.some((m) => m(n));
    },
  };
}

export const DEFAULT_POLICY = makePolicy({ headers: [], allow_headers: [], body_keys: [], allow_body_keys: [], query_params: [], allow_query_params: [] });

/** "key": "value" pairs anywhere in text (JSON, truncated JSON, SSE data lines, NDJSON). */
const JSON_PAIR = /"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*"|-?\d[\d.eE+-]*)/g;
/** Form bodies: name=value&name=value. */
const FORM = /^[\w.%+\-[\]]+=[^&\s]*(&[\w.%+\-[\]]+=[^&\s]*)*$/;
/** Credentials in free text: "Bearer <token>", "Basic <b64>". */
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/**
 * Scrubs secrets out of body-like text. Returns the new text and the names of the fields whose
 * values were replaced (duplicates kept: the count is the length).
 */
export function redactText(text: string, policy: RedactionPolicy): { text: string; fields: string[] } {
  const fields: string[] = [];
  let out = text;
  if (out.includes('"')) {
    out = out.replace(JSON_PAIR, (whole, key: string, sep: string, value: string) => {
      if (!policy.bodyKey(key)) return whole;
      if (value === `"${REDACTED}"`) return whole;
      fields.push(key);
      return `"${key}"${sep}"${REDACTED}"`;
    });
  }
  const trimmed = out.trim();
  if (!trimmed.includes('{') && FORM.test(trimmed)) {
    for (const pair of trimmed.split('&')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && policy.queryParam(pair.slice(0, eq)) && pair.slice(eq + 1) !== REDACTED) fields.push(paramName(pair.slice(0, eq)));
    }
    out = redactParams(out, policy);
  }
  out = out.replace(AUTH_SCHEME, (_w, scheme: string) => {
    fields.push(scheme.toLowerCase());
    return `${scheme} ${REDACTED}`;
  });
  return { text: out, fields };
}

function redactParams(text: string, policy: RedactionPolicy): string {
  return text
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq > 0 && policy.queryParam(pair.slice(0, eq)) ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
    })
    .join('&');
}
