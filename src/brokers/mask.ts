/**
 * A broker URL as it may appear in a message: everything up to the last `@` of the authority
 * part is replaced by `***`, so a password is never shown, even one containing `/`, `@` or `:`
 * in a URL too malformed to parse.
 */
export function maskCredentials(url: string): string {
  return String(url)
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, '$1***@')
    .slice(0, 200);
}
