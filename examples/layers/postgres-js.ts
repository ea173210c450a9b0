// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import postgres from 'postgres';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

/** postgres.js: the `sql` that sql.begin() hands to its callback. */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  // #region snippet
  const sql = postgres(url);
  // #endregion snippet
  try {
    // #region snippet
    await sql.begin(async (tx) => {
      await tx`INSERT INTO orders (id, total) VALUES (${order.orderId}, ${order.total})`;
      await outbox.append(tx, 'orders.order-placed', order);
    });
    // #endregion snippet
  } finally {
    await sql.end();
  }
}
