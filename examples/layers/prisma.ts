// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import { PrismaPg } from '@prisma/adapter-pg';
import type { OutboxWriter } from 'herald';
import type { Order } from './order.js';

/** What this snippet needs of your generated client (`model Order { id String @id  total Int  @@map("orders") }`). */
export interface ShopPrisma {
  $transaction<T>(
    fn: (tx: { order: { create(args: { data: { id: string; total: number } }): Promise<unknown> } }) => Promise<T>,
  ): Promise<T>;
  $disconnect(): Promise<void>;
}

/** Prisma 7: the tx of an interactive prisma.$transaction(async (tx) => …), on a driver adapter. */
export async function placeOrder(
  url: string,
  outbox: OutboxWriter,
  order: Order,
  PrismaClient: new (o: { adapter: PrismaPg }) => ShopPrisma,
): Promise<void> {
  // #region snippet
  const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) });
  // #endregion snippet
  try {
    // #region snippet
    await prisma.$transaction(async (tx) => {
      await tx.order.create({ data: { id: order.orderId, total: order.total } });
      await outbox.append(tx, 'orders.order-placed', order);
    });
    // #endregion snippet
  } finally {
    await prisma.$disconnect();
  }
}
