// A set of component factories by kind and type, with aliases (`otlp` → `otlp_grpc`).
// Kept apart from src/components.ts (which imports every implementation, native addon
// included) so the loader and its tests can run with any set of factories.

import type { ComponentFactory, ComponentKind } from '../core/component';

export type AnyFactory = ComponentFactory<any, any, any>;

export class Registry {
  private readonly byKind = new Map<ComponentKind, Map<string, AnyFactory>>();
  private readonly aliases = new Map<string, { kind: ComponentKind; target: string }>();

  constructor(factories: AnyFactory[], aliases: Array<{ kind: ComponentKind; alias: string; target: string }> = []) {
    for (const f of factories) {
      let m = this.byKind.get(f.kind);
      if (!m) this.byKind.set(f.kind, (m = new Map()));
      if (m.has(f.type)) throw new Error(`duplicate ${f.kind} factory for type ${f.type}`);
      m.set(f.type, f);
    }
    for (const a of aliases) {
      if (!this.byKind.get(a.kind)?.has(a.target)) throw new Error(`alias ${a.alias} names unknown ${a.kind} ${a.target}`);
      this.aliases.set(`${a.kind}:${a.alias}`, { kind: a.kind, target: a.target });
    }
  }

  /** The factory for a type or alias, or undefined. */
  get(kind: ComponentKind, type: string): AnyFactory | undefined {
    const alias = this.aliases.get(`${kind}:${type}`);
    return this.byKind.get(kind)?.get(alias ? alias.target : type);
  }

  /** Valid type names for a kind, aliases included, for error messages and --help. */
  typeNames(kind: ComponentKind): string[] {
    const names = [...(this.byKind.get(kind)?.keys() ?? [])];
    for (const [key, a] of this.aliases) if (a.kind === kind) names.push(`${key.slice(kind.length + 1)} (alias of ${a.target})`);
    return names;
  }

  factories(kind?: ComponentKind): AnyFactory[] {
    const kinds = kind ? [kind] : [...this.byKind.keys()];
    return kinds.flatMap((k) => [...(this.byKind.get(k)?.values() ?? [])]);
  }

  aliasesOf(kind: ComponentKind, target: string): string[] {
    const out: string[] = [];
    for (const [key, a] of this.aliases) if (a.kind === kind && a.target === target) out.push(key.slice(kind.length + 1));
    return out;
  }

  /** Finds a factory by type or alias in any kind (for `help <type>`). */
  find(type: string): AnyFactory[] {
    const out: AnyFactory[] = [];
    for (const kind of this.byKind.keys()) {
      const f = this.get(kind, type);
      if (f) out.push(f);
    }
    return out;
  }
}
