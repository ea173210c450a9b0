import pg from 'pg';
import type { LayerTarget } from '../conformance.js';

/** node-postgres: a pool's client in BEGIN; the pool itself is refused. */
export const pgLayer: LayerTarget = {
  name: 'pg',
  refusalHint: /pool\.connect\(\)/,
  async open(url) {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    return {
      notATransaction: pool,
      async transaction(fn) {
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const result = await fn(client);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        } finally {
          client.release();
        }
      },
      close: () => pool.end(),
    };
  },
};
