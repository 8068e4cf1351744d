// Globs in configs (host names, header and field names, command lines): `*` any run of
// characters, `?` one.

/** A glob (`*` any run of characters, `?` one) as an anchored, case-insensitive RegExp. */
export function globRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}
