import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { LayerTarget } from '../conformance.js';
import { fileOf } from '../../sqlite/sqlite-support.js';

/**
 * Drizzle over better-sqlite3: its `db.transaction((tx) => ...)` is synchronous (better-sqlite3
 * refuses a function that returns a promise), so the tx goes to `appendSync`. The root db is refused.
 */
export const drizzleBetterSqlite3Layer: LayerTarget = {
  name: 'drizzle (better-sqlite3, appendSync)',
  refusalHint: /db\.transaction\(/,
  sync: true,
  async open(url) {
    const client = new Database(fileOf(url));
    const db = drizzle(client);
    return {
      notATransaction: db,
      transaction: () => Promise.reject(new Error('drizzle-orm/better-sqlite3 transactions are synchronous: use transactionSync')),
      transactionSync: (fn) => db.transaction((tx) => fn(tx), { behavior: 'immediate' }),
      close: async () => void client.close(),
    };
  },
};
