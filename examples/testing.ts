// README snippet (between the region markers), run by test/examples/layer-snippets.int.test.ts.
import { ContractRegistry } from 'herald';
import { InMemoryOutbox, RecordingPublisher } from 'herald/testing';

/** A unit test of a service's handler with herald/testing: no database, no broker. Returns what the test saw. */
export async function handlerTest(): Promise<{ delivered: string[]; pendingAfterRollback: number }> {
  // #region snippet
  const contracts = await ContractRegistry.fromDir('examples/orders/contracts');
  const outbox = new InMemoryOutbox({ contracts, source: '/orders-service' });
  const order = {
    orderId: crypto.randomUUID(),
    customerId: 'c-1',
    total: 5,
    currency: 'EUR',
    placedAt: new Date().toISOString(),
    lines: [{ sku: 'BOOK-1', quantity: 1, unitPrice: 5 }],
  };
  await outbox.transaction((tx) => outbox.append(tx, 'orders.order-placed', order)); // your handler, given tx
  const broker = new RecordingPublisher().failNext('unavailable'); // the first attempt finds the broker down
  await outbox.drain(broker); // the real Relay: retries, per-key order, dead letters
  const delivered = broker.eventsOf<typeof order>('orders.order-placed.v1').map((e) => e.data.orderId);
  // #endregion snippet
  await outbox
    .transaction(async (tx) => {
      await outbox.append(tx, 'orders.order-placed', { ...order, orderId: crypto.randomUUID() });
      throw new Error('the handler failed');
    })
    .catch((err: unknown) => {
      if (!(err instanceof Error) || err.message !== 'the handler failed') throw err; // only the failure this test provokes
    });
  return { delivered, pendingAfterRollback: outbox.pending.length };
}
