import type pg from 'pg';
import type { HeraldEvent } from '../../src/event.js';
import type { EventHandlers } from '../../src/patterns/listen.js';
import type { OrderLine } from './service.js';

/**
 * The orders service in the listen-to-yourself pattern: instead of writing its tables and an
 * outbox row (see `placeOrder` in `service.ts`), it publishes `orders.order-placed` to the broker
 * only, and this module applies the event to its own tables when it comes back:
 *
 * ```sh
 * herald consume --broker kafka://127.0.0.1:9092 --database postgres://127.0.0.1/orders \
 *   --contracts examples/orders/contracts --handlers dist/examples/orders/listen-handlers.js --group orders-service
 * ```
 *
 * The tables are the service's own (`ORDERS_DDL` in `service.ts`), created by its migrations. The
 * handlers need no idempotence of their own: the runtime records each event id in the inbox in
 * the same transaction, so a redelivered event never reaches them twice. Until the event is
 * consumed, the order is not in `orders`: answer "order accepted", not a query of the table.
 */

/** The `orders.order-placed` payload, as its contract (`contracts/order-placed.v1.yaml`) describes it. */
export interface OrderPlaced {
  orderId: string;
  customerId: string;
  customerEmail?: string;
  total: number;
  currency: string;
  placedAt: string;
  lines: OrderLine[];
}

/**
 * Writes the order and its lines, exactly as `placeOrder` does, inside the transaction the
 * runtime opened (`tx` must not be committed here). A failing insert rejects, which rolls the
 * whole event back: a constraint violation dead-letters it, a lost connection retries it.
 */
export async function applyOrderPlaced(tx: pg.Client, event: HeraldEvent): Promise<void> {
  const order = event.data as OrderPlaced;
  await tx.query('INSERT INTO orders (id, customer_id, total, currency, placed_at) VALUES ($1, $2, $3, $4, $5)', [
    order.orderId,
    order.customerId,
    order.total,
    order.currency,
    order.placedAt,
  ]);
  for (const [i, l] of order.lines.entries()) {
    await tx.query('INSERT INTO order_lines (order_id, line, sku, quantity, unit_price) VALUES ($1, $2, $3, $4, $5)', [
      order.orderId,
      i + 1,
      l.sku,
      l.quantity,
      l.unitPrice,
    ]);
  }
}

/** What `herald consume --handlers` loads: one handler per event type. */
export const handlers: EventHandlers = { 'orders.order-placed': applyOrderPlaced };

export default handlers;
