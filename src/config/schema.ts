// A small declarative schema for component config sections: defaults first, user keys on
// top, unknown keys are errors, every error names its path (`a::b::c`).

import { ConfigError, ConfigErrors } from '../core/component';

export type FieldSpec =
  | { type: 'int'; default?: number; min?: number; max?: number; required?: boolean; doc?: string }
  | { type: 'bytes'; default?: number; min?: number; max?: number; required?: boolean; doc?: string }
  | { type: 'duration'; default?: number; min?: number; required?: boolean; doc?: string } // milliseconds
  | { type: 'bool'; default?: boolean; required?: boolean; doc?: string }
  | { type: 'string'; default?: string; enum?: readonly string[]; required?: boolean; doc?: string }
  | { type: 'list'; of: FieldSpec; default?: unknown[]; doc?: string }
  | { type: 'stringmap'; default?: Record<string, string>; doc?: string }
  | { type: 'object'; fields: SectionSpec; doc?: string };

export type SectionSpec = Record<string, FieldSpec>;

export const join = (path: string, key: string | number) => (path ? `${path}::${key}` : String(key));

/** Collects configuration errors, so that one pass reports every error of a file, not the first. */
export class ConfigErrorList {
  private readonly errors: ConfigError[] = [];

  add(e: ConfigError): void {
    this.errors.push(...(e instanceof ConfigErrors ? e.errors : [e]));
  }

  /** f's result; undefined when it threw ConfigError(s), which are kept. */
  check<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      this.add(e);
      return undefined;
    }
  }

  /** Throws what was kept: the one error as it is, or all of them together. */
  throwIfAny(): void {
    if (this.errors.length === 1) throw this.errors[0]!;
    if (this.errors.length > 1) throw new ConfigErrors(this.errors);
  }
}

/** `f(item, i)` for each item, every item's errors kept, thrown together at the end. */
export function eachChecked<T, U>(items: readonly T[], f: (item: T, i: number) => U): U[] {
  const errors = new ConfigErrorList();
  const out = items.map((item, i) => errors.check(() => f(item, i)) as U);
  errors.throwIfAny();
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  ki: 1024,
  kib: 1024,
  mi: 1024 ** 2,
  mib: 1024 ** 2,
  gi: 1024 ** 3,
  gib: 1024 ** 3,
};
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "1MiB" → 1048576, "64k" → 64000, 4096 → 4096. */
export function parseBytes(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (m && unit !== undefined) return Math.round(Number(m[1]) * unit);
  }
  throw new ConfigError(path, `expected a byte size like 4096, "64KiB" or "1MiB", got ${show(v)}`);
}

/** "5s" → 5000, "250ms" → 250, 100 → 100 (milliseconds). */
export function parseDuration(v: unknown, path: string): number {
  if (typeof v === 'number' && v >= 0) return v;
  if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(v);
    if (m) return Number(m[1]) * DURATION_UNITS[m[2]!]!;
  }
  throw new ConfigError(path, `expected a duration like "250ms", "5s" or "1m", got ${show(v)}`);
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

function parseField(spec: FieldSpec, v: unknown, path: string): unknown {
  switch (spec.type) {
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(path, `expected an integer, got ${show(v)}`);
      checkRange(v, spec, path);
      return v;
    }
    case 'bytes': {
      const n = parseBytes(v, path);
      checkRange(n, spec, path);
      return n;
    }
    case 'duration': {
      const n = parseDuration(v, path);
      checkRange(n, spec, path);
      return n;
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new ConfigError(path, `expected true or false, got ${show(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new ConfigError(path, `expected a string, got ${show(v)}`);
      if (spec.enum && !spec.enum.includes(v)) throw new ConfigError(path, `expected one of ${spec.enum.join(', ')}, got ${show(v)}`);
      return v;
    case 'list':
      if (!Array.isArray(v)) throw new ConfigError(path, `expected a list, got ${show(v)}`);
      return eachChecked(v, (item, i) => parseField(spec.of, item, join(path, i)));
    case 'stringmap': {
      if (!isPlainObject(v)) throw new ConfigError(path, `expected a mapping of names to strings, got ${show(v)}`);
      const entries = eachChecked(Object.entries(v), ([k, val]) => {
        if (typeof val !== 'string' && typeof val !== 'number') throw new ConfigError(join(path, k), `expected a string, got ${show(val)}`);
        return [k, String(val)] as const;
      });
      return Object.fromEntries(entries);
    }
    case 'object':
      return parseSection(v, path, spec.fields);
  }
}

function checkRange(n: number, spec: { min?: number; max?: number }, path: string) {
  if (spec.min !== undefined && n < spec.min) throw new ConfigError(path, `must be at least ${spec.min}, got ${n}`);
  if (spec.max !== undefined && n > spec.max) throw new ConfigError(path, `must be at most ${spec.max}, got ${n}`);
}

function defaultOf(spec: FieldSpec): unknown {
  if (spec.type === 'object') return parseSection(undefined, '', spec.fields);
  const d = spec.default;
  return Array.isArray(d) ? [...d] : isPlainObject(d) ? { ...d } : d;
}

/**
 * Parses one config section against its spec. `raw` undefined or null means "all defaults".
 * The result type is the caller's to assert (it matches the spec).
 */
export function parseSection<T = Record<string, unknown>>(raw: unknown, path: string, spec: SectionSpec): T {
  if (raw !== undefined && raw !== null && !isPlainObject(raw)) throw new ConfigError(path, `expected a mapping of keys, got ${show(raw)}`);
  const user = (raw ?? {}) as Record<string, unknown>;
  const errors = new ConfigErrorList();
  for (const key of Object.keys(user)) {
    if (!(key in spec)) {
      const valid = Object.keys(spec);
      errors.add(new ConfigError(join(path, key), `unknown key; valid keys: ${valid.length ? valid.join(', ') : '(none)'}`));
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, fieldSpec] of Object.entries(spec)) {
    const p = join(path, key);
    errors.check(() => {
      if (key in user && user[key] !== null && user[key] !== undefined) out[key] = parseField(fieldSpec, user[key], p);
      else if ('required' in fieldSpec && fieldSpec.required) throw new ConfigError(p, 'is required');
      else out[key] = defaultOf(fieldSpec);
    });
  }
  errors.throwIfAny();
  return out as T;
}
