import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { LayerTarget } from '../conformance.js';

/** Kysely over node-postgres: the trx of db.transaction().execute(); the root Kysely is refused. */
export const kyselyPgLayer: LayerTarget = {
  name: 'kysely (pg)',
  refusalHint: /db\.transaction\(\)\.execute\(async \(trx\)/,
  async open(url) {
    const db = new Kysely<Record<string, never>>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
    });
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction().execute((trx) => fn(trx)),
      close: () => db.destroy(),
    };
  },
};
