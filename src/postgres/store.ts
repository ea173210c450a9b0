import type { OutboxStore, StoreOptions } from '../store/port.js';
import { listDeadLetters, requeueDeadLetters } from './dead-letters.js';
import { migratePostgres, postgresOutboxStatus } from './migrate.js';
import { PostgresOutbox } from './outbox.js';
import { PollingSource } from './polling-source.js';
import { outboxNames } from './schema.js';

/**
 * The PostgreSQL store behind the common port. Beyond it, PostgreSQL has the logical relay
 * source, WAL-message appends, eager dispatch and the inbox (see `LogicalSource`,
 * `EagerDispatcher`, `PostgresInbox`), which take the same URL and schema.
 */
export function postgresStore(url: string, options: StoreOptions = {}): OutboxStore {
  outboxNames(options); // validates schema and buckets before anything connects
  const schema = options.schema === undefined ? {} : { schema: options.schema };
  return {
    kind: 'postgres',
    capabilities: { sources: ['polling', 'logical'], eagerDispatch: true, inbox: true },
    migrate: () => migratePostgres(url, options),
    status: () => postgresOutboxStatus(url, schema),
    deadLetters: (limit) => listDeadLetters(url, { ...schema, ...(limit === undefined ? {} : { limit }) }),
    requeue: (eventIds) => requeueDeadLetters(url, { ...schema, ...(eventIds === undefined ? {} : { eventIds }) }),
    writer: (writer) => new PostgresOutbox({ ...writer, ...options }),
    pollingSource: (o = {}) => new PollingSource({ database: url, ...schema, ...o }),
  };
}
