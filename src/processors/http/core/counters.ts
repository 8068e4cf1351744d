/** Counters shared by all parts of the processor (see README for the keys). */
export class Counters {
  private readonly m = new Map<string, number>();
  add(key: string, n = 1): void {
    this.m.set(key, (this.m.get(key) ?? 0) + n);
  }
  get values(): Record<string, number> {
    return Object.fromEntries(this.m);
  }
}
