// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

const orders = pgTable('orders', { id: text('id').primaryKey(), total: integer('total').notNull() });

/** Drizzle: the tx of db.transaction() (node-postgres here; postgres-js and mysql2 alike). */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  // #region snippet
  const db = drizzle(url);
  // #endregion snippet
  try {
    // #region snippet
    await db.transaction(async (tx) => {
      await tx.insert(orders).values({ id: order.orderId, total: order.total });
      await outbox.append(tx, 'orders.order-placed', order);
    });
    // #endregion snippet
  } finally {
    await db.$client.end();
  }
}
