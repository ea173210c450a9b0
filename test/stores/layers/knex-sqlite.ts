import knex from 'knex';
import type { LayerTarget } from '../conformance.js';
import { fileOf } from '../../sqlite/sqlite-support.js';

/** knex with its better-sqlite3 client: the trx of knex.transaction(); the root knex instance is refused. */
export const knexSqliteLayer: LayerTarget = {
  name: 'knex (better-sqlite3)',
  refusalHint: /knex\.transaction\(async \(trx\)/,
  async open(url) {
    const db = knex({ client: 'better-sqlite3', connection: { filename: fileOf(url) }, useNullAsDefault: true });
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction((trx) => fn(trx)),
      close: () => db.destroy(),
    };
  },
};
