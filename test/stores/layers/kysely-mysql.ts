import { Kysely, MysqlDialect, type MysqlPool } from 'kysely';
import mysql from 'mysql2';
import type { LayerTarget } from '../conformance.js';

/** Kysely over mysql2: the trx of db.transaction().execute(); the root Kysely is refused. */
export const kyselyMysqlLayer: LayerTarget = {
  name: 'kysely (mysql2)',
  refusalHint: /db\.transaction\(\)\.execute\(async \(trx\)/,
  async open(url) {
    const pool = mysql.createPool({ uri: url, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true });
    // mysql2 3.26's query() overloads no longer match Kysely 0.28's MysqlPool type; the runtime shape does.
    const db = new Kysely<Record<string, never>>({ dialect: new MysqlDialect({ pool: pool as unknown as MysqlPool }) });
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction().execute((trx) => fn(trx)),
      close: () => db.destroy(),
    };
  },
};
