import type { OutboxStore, StoreOptions } from '../store/port.js';
import { checkMysqlUrl } from './connect.js';
import { listMysqlDeadLetters, requeueMysqlDeadLetters } from './dead-letters.js';
import { migrateMysql, mysqlOutboxStatus } from './migrate.js';
import { MysqlOutbox } from './outbox.js';
import { MysqlPollingSource } from './polling-source.js';
import { mysqlNames } from './schema.js';

/**
 * The MySQL 8 / MariaDB 10.6+ store behind the common port: migrate, status, the writer (on a
 * mysql2 connection inside `beginTransaction()`), the polling relay source with leased buckets,
 * dead letters and requeue. The URL and options are validated here, before anything connects;
 * `mysql2` is loaded only when something connects.
 */
export function mysqlStore(url: string, options: StoreOptions = {}): OutboxStore {
  checkMysqlUrl(url);
  mysqlNames(options);
  const schema = options.schema === undefined ? {} : { schema: options.schema };
  return {
    kind: 'mysql',
    capabilities: { sources: ['polling'], eagerDispatch: false, inbox: true },
    migrate: () => migrateMysql(url, options),
    status: () => mysqlOutboxStatus(url, schema),
    deadLetters: (limit) => listMysqlDeadLetters(url, { ...schema, ...(limit === undefined ? {} : { limit }) }),
    requeue: (eventIds) => requeueMysqlDeadLetters(url, { ...schema, ...(eventIds === undefined ? {} : { eventIds }) }),
    writer: (writer) => new MysqlOutbox({ ...writer, ...schema }),
    pollingSource: (o = {}) => new MysqlPollingSource({ database: url, ...schema, ...o }),
  };
}
