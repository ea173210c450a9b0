import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The name of the cookie that carries the token for page views after the first visit. */
export const tokenCookie = 'herald_console';

/** The header a script or `curl` may send the token in instead of a form field. */
export const tokenHeader = 'x-herald-token';

/**
 * The Content-Security-Policy of every console page: nothing may load or run except the page's
 * own inline style and `data:` images, and forms may post only back to the console. Even a
 * rendering mistake therefore cannot run a script or send data elsewhere.
 */
export const consoleCsp =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** A fresh random token (32 bytes, base64url), for a console started without `--token`. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether `given` equals `expected`, in time that does not depend on where they differ: both
 * are hashed first, so even their lengths are compared in constant time.
 */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The cookie `name` of a request, if sent. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * Whether the request's `Host` is one of the console's own names (`127.0.0.1:PORT`,
 * `localhost:PORT`, or the host it listens on). Refusing any other name stops DNS rebinding: a
 * hostile site that points its own name at 127.0.0.1 still sends its name as the Host.
 */
export function hostAllowed(req: IncomingMessage, allowedHosts: ReadonlySet<string>): boolean {
  const host = req.headers.host?.toLowerCase();
  return host !== undefined && allowedHosts.has(host);
}

/**
 * Whether a state-changing request comes from the console's own pages: its `Origin`, or when a
 * browser sent none, its `Referer`, must name one of the console's hosts over http. A request
 * with neither (a script, `curl`) passes this check and still needs the token; `Origin: null`
 * (sandboxed frames, some redirects) is refused.
 */
export function sameOrigin(req: IncomingMessage, allowedHosts: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  const referer = req.headers.referer;
  const from = origin ?? referer;
  if (from === undefined) return true;
  try {
    const u = new URL(from);
    return u.protocol === 'http:' && allowedHosts.has(u.host.toLowerCase());
  } catch {
    return false;
  }
}
