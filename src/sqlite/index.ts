/**
 * `herald/sqlite`: the SQLite outbox store. Everything here loads `better-sqlite3` (an optional
 * peer, version 12 on Node 20) only when it opens a file.
 */
export { sqliteStore, type SqliteStore } from './store.js';
export { SqliteOutbox, type SqliteOutboxOptions } from './outbox.js';
export { SqlitePollingSource, sqlitePollingDefaults, type SqlitePollingSourceOptions } from './polling-source.js';
export { migrateSqlite, sqliteOutboxStatus } from './migrate.js';
export { listSqliteDeadLetters, requeueSqliteDeadLetters } from './dead-letters.js';
export { sqliteNames, sqliteOutboxDefaults, bucketExpression, type SqliteOutboxSchemaOptions } from './schema.js';
export { sqliteLocation, SQLITE_BUSY_TIMEOUT_MS, type SqliteLocation } from './connect.js';
export { checkSqliteVersion, MINIMUM_SQLITE_VERSION } from './version.js';
export { betterSqlite3Executor } from '../data-layers/better-sqlite3.js';
