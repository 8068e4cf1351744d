// `${env:VAR}` / `${env:VAR:-default}` substitution in string values of a parsed config tree,
// with `$$` as the escape for a literal `$` (the OpenTelemetry Collector's syntax).
//
// Like the Collector, a value that is exactly one reference (`key: ${env:PORT}`) takes the
// type the variable's text reads as in YAML (a number, a boolean), so numeric keys can come
// from the environment; a reference inside a longer string is always text.

import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/component';
import { ConfigErrorList, join } from './schema';

export type Env = Record<string, string | undefined>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Returns a copy of `tree` with every string value substituted. Keys are left as written. Every
 * reference that cannot be resolved is reported, together.
 */
export function substituteEnv(tree: unknown, env: Env): unknown {
  const errors = new ConfigErrorList();
  const out = substituteTree(tree, env, '', errors);
  errors.throwIfAny();
  return out;
}

function substituteTree(tree: unknown, env: Env, path: string, errors: ConfigErrorList): unknown {
  if (typeof tree === 'string') return errors.check(() => substituteString(tree, env, path));
  if (Array.isArray(tree)) return tree.map((item, i) => substituteTree(item, env, join(path, i), errors));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(tree)) out[k] = substituteTree(v, env, join(path, k), errors);
    return out;
  }
  return tree;
}

function substituteString(s: string, env: Env, path: string): unknown {
  if (!s.includes('$')) return s;
  const whole = /^\$\{([^}]*)\}$/.exec(s);
  if (whole) return typed(resolve(whole[1]!, env, path));

  let out = '';
  for (let i = 0; i < s.length;) {
    const c = s[i]!;
    if (c !== '$') {
      out += c;
      i++;
    } else if (s[i + 1] === '$') {
      out += '$';
      i += 2;
    } else if (s[i + 1] === '{') {
      const end = s.indexOf('}', i + 2);
      if (end < 0) throw new ConfigError(path, `unclosed "\${" in ${JSON.stringify(s)}; write $$ for a literal $`);
      out += resolve(s.slice(i + 2, end), env, path);
      i = end + 1;
    } else {
      // A lone `$` followed by anything else is kept literally (e.g. a regex ending in `$`).
      out += c;
      i++;
    }
  }
  return out;
}

/** `env:NAME` or `env:NAME:-default` → the value. */
function resolve(ref: string, env: Env, path: string): string {
  const m = /^([a-z]+):(.*)$/s.exec(ref);
  if (!m) throw new ConfigError(path, `"\${${ref}}" is not a reference; use \${env:NAME} or \${env:NAME:-default} (write $$ for a literal $)`);
  if (m[1] !== 'env') throw new ConfigError(path, `"\${${ref}}": only the env provider is supported (\${env:NAME})`);
  const body = m[2]!;
  const sep = body.indexOf(':-');
  const name = sep >= 0 ? body.slice(0, sep) : body;
  if (!NAME.test(name)) throw new ConfigError(path, `"\${${ref}}": ${JSON.stringify(name)} is not a valid environment variable name`);
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  if (sep >= 0) return body.slice(sep + 2);
  if (value === '') return value;
  throw new ConfigError(path, `environment variable ${name} is not set (referenced as \${env:${name}}; give a default with \${env:${name}:-value})`);
}

/**
 * Reads a whole-value substitution as a YAML scalar: "8080" → 8080, "true" → true, else text.
 * Only when the text is exactly how that value is written, so "0123" (an API key, say) or
 * "1e3" stay text instead of turning into 123 or 1000.
 */
function typed(text: string): unknown {
  try {
    const v: unknown = parseYaml(text);
    if ((typeof v === 'number' || typeof v === 'boolean') && String(v) === text) return v;
  } catch {
    // Not valid YAML on its own (e.g. "a: b: c"): keep it as text.
  }
  return text;
}
