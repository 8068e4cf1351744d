// Credentials never leave the host in URLs: as the OpenTelemetry HTTP conventions require,
// userinfo in url.full becomes REDACTED:REDACTED, and the values of query parameters that carry
// signatures or keys become REDACTED (the conventions' list plus common API-key names).

export const REDACTED = 'REDACTED';

const SENSITIVE_PARAMS = new Set([
  // From the semantic conventions (url.query / url.full).
  'awsaccesskeyid',
  'signature',
  'sig',
  'x-goog-signature',
  // Common credential parameters.
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-credential',
  'api_key',
  'apikey',
  'api-key',
  'key',
  'access_token',
  'refresh_token',
  'id_token',
  'token',
  'auth',
  'authorization',
  'password',
  'passwd',
  'pwd',
  'secret',
  'client_secret',
  'session',
  'sessionid',
]);

/** A parameter name as the application sees it (percent-decoded, lower case). */
export function paramName(name: string): string {
  if (!name.includes('%') && !name.includes('+')) return name.toLowerCase(); // the usual case: nothing to decode
  let n = name;
  try {
    n = decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    // keep the raw name
  }
  return n.toLowerCase();
}

/** The built-in list of credential parameter names. */
export const isSensitiveParam = (name: string): boolean => SENSITIVE_PARAMS.has(paramName(name));

/**
 * "a=1&api_key=xyz" → "a=1&api_key=REDACTED". Order and separators are kept. `sensitive` decides
 * which (raw) names are credentials (default: the built-in list).
 */
export function redactQuery(query: string, sensitive: (name: string) => boolean = isSensitiveParam): string {
  // One pass over the pairs without splitting: most queries carry no credential and are
  // returned as they are.
  let out = '';
  let copied = 0; // query[0..copied) is in `out`
  let eq = -1;
  for (let start = 0; start <= query.length;) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (eq < start) eq = query.indexOf('=', start);
    if (eq < 0) break; // no value in the rest: nothing to hide
    if (eq < end && sensitive(query.slice(start, eq))) {
      out += query.slice(copied, eq + 1) + REDACTED;
      copied = end;
    }
    start = end + 1;
  }
  return copied === 0 ? query : out + query.slice(copied);
}

/** Redacts userinfo and sensitive query values of an absolute URL. */
export function redactUrl(url: string, sensitive: (name: string) => boolean = isSensitiveParam): string {
  let out = url;
  const scheme = out.indexOf('://');
  if (scheme > 0) {
    const authorityEnd = out.slice(scheme + 3).search(/[/?#]/);
    const end = authorityEnd < 0 ? out.length : scheme + 3 + authorityEnd;
    const at = out.lastIndexOf('@', end);
    if (at > scheme) out = `${out.slice(0, scheme + 3)}${REDACTED}:${REDACTED}${out.slice(at)}`;
  }
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const query = hash < 0 ? out.slice(q + 1) : out.slice(q + 1, hash);
  return out.slice(0, q + 1) + redactQuery(query, sensitive) + (hash < 0 ? '' : out.slice(hash));
}
