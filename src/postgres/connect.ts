import { HeraldError, ErrorCodes } from '../errors.js';
import { redactUrl } from '../store/redact-url.js';

export { redactUrl };

type PgModule = typeof import('pg');
/** A node-postgres client. */
export type PgClient = import('pg').Client;

let pgModule: PgModule | undefined;

/** Checks that `url` is a `postgres://` or `postgresql://` URL; throws `CONFIG_INVALID` naming the option. */
export function checkPostgresUrl(url: unknown, option = 'database'): string {
  let ok = false;
  try {
    ok = typeof url === 'string' && ['postgres:', 'postgresql:'].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option '${option}' must be a URL like postgres://user@127.0.0.1:5432/db, got '${typeof url === 'string' ? redactUrl(url) : String(url)}'`,
      { details: { option } },
    );
  }
  return url as string;
}

/**
 * Opens a node-postgres connection. Errors name the server (password removed) and say what to
 * check; the connection is marked so that a later query after a dropped link fails fast.
 */
export async function connectPg(
  url: string,
  applicationName = 'herald',
  extra: { replication?: 'database'; options?: string } = {},
): Promise<PgClient> {
  checkPostgresUrl(url);
  if (!pgModule) {
    try {
      pgModule = (await import('pg')).default as unknown as PgModule;
    } catch (cause) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, "herald needs the package 'pg' to talk to PostgreSQL: npm install pg", { cause });
    }
  }
  // A bounded connect: a server that accepts the socket but never answers must not hang a relay.
  const client = new pgModule.Client({
    connectionString: url,
    application_name: applicationName,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    ...extra,
  });
  // An idle connection that the server closes emits 'error'; without a listener Node would crash.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    const code = (cause as { code?: string }).code;
    const user = new URL(url).username || 'the connecting role';
    if (extra.replication && code === '42501') {
      throw new HeraldError(
        ErrorCodes.PERMISSION_DENIED,
        `cannot open a replication connection to ${redactUrl(url)}: role '${user}' lacks the REPLICATION attribute; run ALTER ROLE ${user} REPLICATION (see the grants 'herald migrate --source logical' prints)`,
        { cause, details: { sqlstate: code } },
      );
    }
    const hint =
      code === 'ECONNREFUSED'
        ? 'is the server running and listening there?'
        : code === '28P01' || (code === '28000' && !extra.replication)
          ? 'check the user and password'
          : code === '3D000'
            ? 'create the database or fix its name'
            : code === '28000' && extra.replication
              ? "allow replication connections for this role in pg_hba.conf (a 'host <db> <role> ...' line; logical replication matches the database name)"
              : 'check the URL';
    throw new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `cannot connect to postgresql at ${redactUrl(url)}: ${(cause as Error).message}; ${hint}`,
      {
        cause,
        // The server restarting shows up as any of these; a relay retries them with backoff.
        retryable: isConnectionError(cause) || ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code ?? ''),
        details: { sqlstate: code },
      },
    );
  }
  return client;
}

/**
 * True when `err` (a `connectPg` failure) is the server refusing the login: a wrong password
 * (`28P01`) or a role that may not log in (`28000` on a normal connection). At start-up that is a
 * configuration mistake; once a relay has been connected with the same URL it means the
 * credentials were rotated under it, and waiting (for them to be restored or the relay to be
 * restarted with the new ones) is better than exiting.
 */
export function isLoginRefused(err: unknown): boolean {
  const sqlstate = (err as { details?: { sqlstate?: unknown } }).details?.sqlstate;
  return sqlstate === '28P01' || sqlstate === '28000';
}

/**
 * The error of a login refused after `url` had worked before: retryable, with the server named
 * (password removed) and what to do. Wraps the `connectPg` error `cause`.
 */
export function loginRefusedMidRun(cause: HeraldError, what: string): HeraldError {
  return new HeraldError(
    ErrorCodes.DATABASE_ERROR,
    `${what}: ${cause.message} (it worked before: were the credentials rotated?); retrying with backoff until the login works again, restore the old password or restart the relay with the new one`,
    { cause, retryable: true, details: cause.details },
  );
}

/**
 * True when `err` means the connection itself failed (server restarted, network dropped), not the
 * statement: such errors are worth retrying on a new connection.
 */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return (
    code.startsWith('08') ||
    ['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(code) ||
    /Connection terminated|not queryable|timeout expired|ECONNRESET|ECONNREFUSED/i.test((err as Error).message ?? '')
  );
}
