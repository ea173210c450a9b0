import type pg from 'pg';
import type { PostgresOutbox } from '../../src/postgres/outbox.js';

/** A line of an order. */
export interface OrderLine {
  sku: string;
  quantity: number;
  unitPrice: number;
}

/** An order as the service receives it. */
export interface Order {
  orderId: string;
  customerId: string;
  customerEmail?: string;
  currency: string;
  lines: OrderLine[];
}

/** The service's own tables: an order and its lines. */
export const ORDERS_DDL = [
  `CREATE TABLE IF NOT EXISTS orders (
    id uuid PRIMARY KEY, customer_id text NOT NULL, total numeric(12,2) NOT NULL, currency char(3) NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS order_lines (
    order_id uuid NOT NULL REFERENCES orders(id), line int NOT NULL, sku text NOT NULL, quantity int NOT NULL,
    unit_price numeric(12,2) NOT NULL, PRIMARY KEY (order_id, line))`,
];

/** Writes the order and its lines in the caller's transaction (the business change alone). */
export async function insertOrder(client: pg.PoolClient | pg.Client, order: Order): Promise<void> {
  await client.query('INSERT INTO orders (id, customer_id, total, currency) VALUES ($1, $2, $3, $4)', [
    order.orderId,
    order.customerId,
    totalOf(order),
    order.currency,
  ]);
  for (const [i, l] of order.lines.entries()) {
    await client.query('INSERT INTO order_lines (order_id, line, sku, quantity, unit_price) VALUES ($1, $2, $3, $4, $5)', [
      order.orderId,
      i + 1,
      l.sku,
      l.quantity,
      l.unitPrice,
    ]);
  }
}

/** The order's total, rounded to cents. */
export function totalOf(order: Order): number {
  return Math.round(order.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0) * 100) / 100;
}

/** The `orders.order-placed` payload for an order, as its contract describes it. */
export function orderPlacedEvent(order: Order): Record<string, unknown> {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    ...(order.customerEmail === undefined ? {} : { customerEmail: order.customerEmail }),
    total: totalOf(order),
    currency: order.currency,
    placedAt: new Date().toISOString(),
    lines: order.lines,
  };
}

/**
 * Places an order: the order row, its lines and the `orders.order-placed` event commit together
 * or not at all. This is the whole of the transactional outbox from the service's side.
 */
export async function placeOrder(client: pg.PoolClient | pg.Client, outbox: PostgresOutbox, order: Order): Promise<void> {
  await client.query('BEGIN');
  try {
    await insertOrder(client, order);
    await outbox.append(client, 'orders.order-placed', orderPlacedEvent(order));
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}
