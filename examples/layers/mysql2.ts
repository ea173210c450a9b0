// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import mysql from 'mysql2/promise';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

/** mysql2: a connection of the pool after beginTransaction(), not the pool itself. */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  const pool = mysql.createPool(url);
  try {
    // #region snippet
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      await conn.execute('INSERT INTO orders (id, total) VALUES (?, ?)', [order.orderId, order.total]);
      await outbox.append(conn, 'orders.order-placed', order);
      await conn.commit();
    } catch (err) {
      await conn.rollback();
      throw err;
    } finally {
      conn.release();
    }
    // #endregion snippet
  } finally {
    await pool.end();
  }
}
