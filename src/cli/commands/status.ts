import { postgresOutboxStatus } from '../../outbox/postgres-migrate.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { duration, printResult, table } from '../output.js';

/** `herald status`: pending events, the oldest one's age and dead letters, per topic. */
export async function statusCommand(flags: Partial<HeraldConfig> & { config?: string; json?: boolean }): Promise<void> {
  const config = await loadConfig(flags);
  const status = await postgresOutboxStatus(
    required(config, 'database', '--database', 'HERALD_DATABASE_URL'),
    config.schema === undefined ? {} : { schema: config.schema },
  );
  printResult(flags.json === true, status, () => {
    const head = `pending ${status.pending}, oldest ${duration(status.oldestPendingSeconds)}, dead-lettered ${status.deadLettered}, live relays ${status.relays}`;
    if (status.topics.length === 0) return head;
    return (
      head +
      '\n\n' +
      table(
        ['topic', 'pending', 'oldest', 'retrying', 'dead'],
        status.topics.map((t) => [t.topic, t.pending, duration(t.oldestPendingSeconds), t.retrying, t.deadLettered]),
      )
    );
  });
}
