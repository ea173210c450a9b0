import knex from 'knex';
import type { LayerTarget } from '../conformance.js';

/** knex over pg: the trx of knex.transaction(); the root knex instance is refused. */
export const knexPgLayer: LayerTarget = {
  name: 'knex (pg)',
  refusalHint: /knex\.transaction\(async \(trx\)/,
  async open(url) {
    const db = knex({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction((trx) => fn(trx)),
      close: () => db.destroy(),
    };
  },
};
