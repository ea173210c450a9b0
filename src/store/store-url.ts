import { HeraldError, ErrorCodes } from '../errors.js';
import type { OutboxStore, StoreKind, StoreOptions } from './port.js';
import { redactUrl } from './redact-url.js';

/** URL schemes of the stores, and the store each selects. */
const SCHEMES: Readonly<Record<string, StoreKind>> = {
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
  'sqlite:': 'sqlite',
};

/**
 * Which store a database URL selects: `postgres://` / `postgresql://`, `mysql://` / `mariadb://`,
 * or `sqlite:path` (`sqlite::memory:` is refused: a relay in another process could never see
 * it). Throws `CONFIG_INVALID` naming the option, with the URL's password removed.
 */
export function storeKindOf(url: unknown, option = 'database'): StoreKind {
  let kind: StoreKind | undefined;
  try {
    kind = typeof url === 'string' ? SCHEMES[new URL(url).protocol] : undefined;
  } catch {
    kind = undefined;
  }
  if (kind === undefined) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option '${option}' must be a database URL: postgres://user@host:5432/db, mysql://user@host:3306/db or sqlite:path/to/file.db; got '${typeof url === 'string' ? redactUrl(url) : String(url)}'`,
      { details: { option } },
    );
  }
  return kind;
}

/**
 * The store for a database URL. Each store's module (and its driver, an optional peer) is
 * loaded only when its URL is used.
 */
export async function storeFor(url: string, options: StoreOptions = {}): Promise<OutboxStore> {
  switch (storeKindOf(url)) {
    case 'postgres':
      return (await import('../postgres/store.js')).postgresStore(url, options);
    case 'mysql':
      return (await import('../mysql/store.js')).mysqlStore(url, options);
    case 'sqlite':
      return (await import('../sqlite/store.js')).sqliteStore(url, options);
  }
}
