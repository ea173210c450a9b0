import type { Database } from 'better-sqlite3';
import type { SqliteOutbox } from '../../src/sqlite/outbox.js';
import { orderPlacedEvent, totalOf, type Order } from './service.js';

/** The service's own tables on SQLite: an order and its lines (money as integer cents). */
export const ORDERS_SQLITE_DDL = [
  `CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, total_cents INTEGER NOT NULL, currency TEXT NOT NULL,
    placed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`,
  `CREATE TABLE IF NOT EXISTS order_lines (
    order_id TEXT NOT NULL REFERENCES orders(id), line INTEGER NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
    unit_price_cents INTEGER NOT NULL, PRIMARY KEY (order_id, line))`,
];

/**
 * Places an order on SQLite: the order row, its lines and the `orders.order-placed` event commit
 * together or not at all. better-sqlite3 transactions are synchronous, so the event goes in with
 * `appendSync`; `.immediate()` takes the write lock at BEGIN, so the transaction never has to
 * wait for it half-way.
 */
export function placeOrderSqlite(db: Database, outbox: SqliteOutbox, order: Order): void {
  db.transaction(() => {
    db.prepare('INSERT INTO orders (id, customer_id, total_cents, currency) VALUES (?, ?, ?, ?)').run(
      order.orderId,
      order.customerId,
      Math.round(totalOf(order) * 100),
      order.currency,
    );
    const line = db.prepare('INSERT INTO order_lines (order_id, line, sku, quantity, unit_price_cents) VALUES (?, ?, ?, ?, ?)');
    for (const [i, l] of order.lines.entries()) line.run(order.orderId, i + 1, l.sku, l.quantity, Math.round(l.unitPrice * 100));
    outbox.appendSync(db, 'orders.order-placed', orderPlacedEvent(order));
  }).immediate();
}
