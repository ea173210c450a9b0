// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import knex from 'knex';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

/** knex: the trx of knex.transaction(). */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  // #region snippet
  const db = knex({ client: 'pg', connection: url });
  // #endregion snippet
  try {
    // #region snippet
    await db.transaction(async (trx) => {
      await trx('orders').insert({ id: order.orderId, total: order.total });
      await outbox.append(trx, 'orders.order-placed', order);
    });
    // #endregion snippet
  } finally {
    await db.destroy();
  }
}
