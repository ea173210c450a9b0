// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

interface Database {
  orders: { id: string; total: number };
}

/** Kysely: the trx of db.transaction().execute(). */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  // #region snippet
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
  // #endregion snippet
  try {
    // #region snippet
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('orders').values({ id: order.orderId, total: order.total }).execute();
      await outbox.append(trx, 'orders.order-placed', order);
    });
    // #endregion snippet
  } finally {
    await db.destroy();
  }
}
