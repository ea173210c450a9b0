import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import type { LayerTarget } from '../conformance.js';

/** Drizzle over postgres.js: the tx of db.transaction(); the root db is refused. */
export const drizzlePostgresJsLayer: LayerTarget = {
  name: 'drizzle (postgres.js)',
  refusalHint: /db\.transaction\(async \(tx\)/,
  async open(url) {
    const sql = postgres(url, { max: 2, onnotice: () => undefined });
    const db = drizzle(sql);
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction((tx) => fn(tx)),
      close: () => sql.end(),
    };
  },
};
