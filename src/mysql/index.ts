/**
 * `herald/mysql`: the MySQL 8 / MariaDB 10.6+ outbox store. Everything here loads `mysql2`
 * (an optional peer) only when it connects.
 */
export { mysqlStore } from './store.js';
export { MysqlOutbox, keyLockSlot, type MysqlOutboxOptions } from './outbox.js';
export { MysqlPollingSource, mysqlPollingDefaults, type MysqlPollingSourceOptions } from './polling-source.js';
export { migrateMysql, mysqlOutboxStatus } from './migrate.js';
export { listMysqlDeadLetters, requeueMysqlDeadLetters } from './dead-letters.js';
export { mysqlNames, mysqlOutboxDefaults, KEY_LOCK_SLOTS, type MysqlOutboxSchemaOptions } from './schema.js';
export { checkServerVersion, parseServerVersion, MINIMUM_VERSIONS, type ServerVersion } from './version.js';
export { mysql2Executor } from '../data-layers/mysql2.js';
export { MysqlInbox, migrateMysqlInbox, mysqlInboxNames, MYSQL_INBOX_LIMITS, type MysqlInboxNames } from './inbox.js';
