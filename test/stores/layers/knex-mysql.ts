import knex from 'knex';
import type { LayerTarget } from '../conformance.js';

/** knex over mysql2: the trx of knex.transaction(); the root knex instance is refused. */
export const knexMysqlLayer: LayerTarget = {
  name: 'knex (mysql2)',
  refusalHint: /knex\.transaction\(async \(trx\)/,
  async open(url) {
    const db = knex({
      client: 'mysql2',
      connection: { uri: url, supportBigNumbers: true, bigNumberStrings: true } as never,
      pool: { min: 0, max: 2 },
    });
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction((trx) => fn(trx)),
      close: () => db.destroy(),
    };
  },
};
