import { drizzle } from 'drizzle-orm/mysql2';
import mysql from 'mysql2/promise';
import type { LayerTarget } from '../conformance.js';

/** Drizzle over mysql2: the tx of db.transaction(); the root db is refused. */
export const drizzleMysql2Layer: LayerTarget = {
  name: 'drizzle (mysql2)',
  refusalHint: /db\.transaction\(async \(tx\)/,
  async open(url) {
    const pool = mysql.createPool({ uri: url, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true });
    const db = drizzle(pool);
    return {
      notATransaction: db,
      transaction: (fn) => db.transaction((tx) => fn(tx)),
      close: () => pool.end(),
    };
  },
};
