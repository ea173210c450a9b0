import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { LayerTarget } from '../conformance.js';

/** Drizzle over node-postgres: the tx of db.transaction(); the root db is refused. */
export const drizzlePgLayer: LayerTarget = {
  name: 'drizzle (node-postgres)',
  refusalHint: /db\.transaction\(async \(tx\)/,
  async open(url) {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    const db = drizzle(pool);
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction((tx) => fn(tx)),
      close: () => pool.end(),
    };
  },
};
