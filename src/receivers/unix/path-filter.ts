// include / exclude globs on unix socket paths: `*` and `?` stay within one path segment, `**`
// crosses segments; abstract names are written with a leading `@`.

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        i++;
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export class PathFilter {
  private readonly include: RegExp[];
  private readonly exclude: RegExp[];

  constructor(include: string[], exclude: string[]) {
    this.include = include.map(globToRegExp);
    this.exclude = exclude.map(globToRegExp);
  }

  get active(): boolean {
    return this.include.length > 0 || this.exclude.length > 0;
  }

  /** A path passes when it matches an include glob (or there are none) and no exclude glob. */
  allows(path: string): boolean {
    if (this.include.length > 0 && !this.include.some((r) => r.test(path))) return false;
    return !this.exclude.some((r) => r.test(path));
  }
}
