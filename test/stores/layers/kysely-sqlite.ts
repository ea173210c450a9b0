import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { LayerTarget } from '../conformance.js';
import { fileOf } from '../../sqlite/sqlite-support.js';

/** Kysely's SqliteDialect over better-sqlite3: the trx of db.transaction().execute(); the root Kysely is refused. */
export const kyselySqliteLayer: LayerTarget = {
  name: 'kysely (SqliteDialect, better-sqlite3)',
  refusalHint: /db\.transaction\(\)\.execute\(async \(trx\)/,
  async open(url) {
    const db = new Kysely<Record<string, never>>({ dialect: new SqliteDialect({ database: new Database(fileOf(url)) }) });
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction().execute((trx) => fn(trx)),
      close: () => db.destroy(),
    };
  },
};
