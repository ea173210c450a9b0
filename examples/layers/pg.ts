// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import pg from 'pg';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

/** node-postgres: a client checked out of the pool, inside BEGIN … COMMIT. */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  const pool = new pg.Pool({ connectionString: url });
  try {
    // #region snippet
    const client = await pool.connect(); // a client, not the pool: the append must join this transaction
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO orders (id, total) VALUES ($1, $2)', [order.orderId, order.total]);
      await outbox.append(client, 'orders.order-placed', order);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    } finally {
      client.release();
    }
    // #endregion snippet
  } finally {
    await pool.end();
  }
}
