// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

/** TypeORM: the EntityManager of dataSource.transaction() (or a QueryRunner after startTransaction()). */
export async function placeOrder(url: string, outbox: OutboxWriter, order: Order): Promise<void> {
  // #region snippet
  const dataSource = await new DataSource({ type: 'postgres', url }).initialize();
  // #endregion snippet
  try {
    // #region snippet
    await dataSource.transaction(async (manager) => {
      await manager.query('INSERT INTO orders (id, total) VALUES ($1, $2)', [order.orderId, order.total]);
      await outbox.append(manager, 'orders.order-placed', order);
    });
    // #endregion snippet
  } finally {
    await dataSource.destroy();
  }
}
