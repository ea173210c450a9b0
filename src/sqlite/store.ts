import type { OutboxStore, StoreOptions } from '../store/port.js';
import { sqliteLocation } from './connect.js';
import { listSqliteDeadLetters, requeueSqliteDeadLetters } from './dead-letters.js';
import { migrateSqlite, sqliteOutboxStatus } from './migrate.js';
import { SqliteOutbox } from './outbox.js';
import { SqlitePollingSource } from './polling-source.js';
import { sqliteNames } from './schema.js';

/**
 * The SQLite store behind the common port: migrate (WAL, version check), status, the writer (on
 * a better-sqlite3 Database inside a transaction, or a data layer's transaction over it), the
 * polling relay source with leased buckets, dead letters and requeue. The URL (`sqlite:path`,
 * never `:memory:`) and options are validated here, before the file is opened; `better-sqlite3`
 * is loaded only when something opens the file. `writer()` returns a {@link SqliteOutbox}, which
 * also has the synchronous `appendSync` for better-sqlite3's `db.transaction(fn)`.
 */
export function sqliteStore(url: string, options: StoreOptions = {}): SqliteStore {
  const location = sqliteLocation(url);
  sqliteNames(options);
  const schema = options.schema === undefined ? {} : { schema: options.schema };
  return {
    kind: 'sqlite',
    capabilities: { sources: ['polling'], eagerDispatch: false, inbox: false },
    migrate: () => migrateSqlite(location, options),
    status: () => sqliteOutboxStatus(location, schema),
    deadLetters: (limit) => listSqliteDeadLetters(location, { ...schema, ...(limit === undefined ? {} : { limit }) }),
    requeue: (eventIds) => requeueSqliteDeadLetters(location, { ...schema, ...(eventIds === undefined ? {} : { eventIds }) }),
    writer: (writer) => new SqliteOutbox({ ...writer, ...schema }),
    pollingSource: (o = {}) => new SqlitePollingSource({ database: url, ...schema, ...o }),
  };
}

/** The SQLite store: the common port, with a writer that also appends synchronously. */
export interface SqliteStore extends OutboxStore {
  writer(options: Parameters<OutboxStore['writer']>[0]): SqliteOutbox;
}
