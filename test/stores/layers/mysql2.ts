import mysql from 'mysql2/promise';
import type { LayerTarget } from '../conformance.js';

/** mysql2: a pool's connection after beginTransaction(); the pool itself is refused. */
export const mysql2Layer: LayerTarget = {
  name: 'mysql2',
  refusalHint: /pool\.getConnection\(\)/,
  async open(url) {
    const pool = mysql.createPool({ uri: url, connectionLimit: 2, supportBigNumbers: true, bigNumberStrings: true });
    return {
      notATransaction: pool,
      async transaction(fn) {
        const conn = await pool.getConnection();
        try {
          await conn.beginTransaction();
          const result = await fn(conn);
          await conn.commit();
          return result;
        } catch (err) {
          await conn.rollback();
          throw err;
        } finally {
          conn.release();
        }
      },
      close: () => pool.end(),
    };
  },
};
