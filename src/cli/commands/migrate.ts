import { migratePostgres } from '../../outbox/postgres-migrate.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { printResult } from '../output.js';

/** `herald migrate`: creates or checks the outbox tables; safe to run on every deploy. */
export async function migrateCommand(flags: Partial<HeraldConfig> & { config?: string; json?: boolean }): Promise<void> {
  const config = await loadConfig(flags);
  const result = await migratePostgres(required(config, 'database', '--database', 'HERALD_DATABASE_URL'), {
    ...(config.schema === undefined ? {} : { schema: config.schema }),
    ...(config.buckets === undefined ? {} : { buckets: Number(config.buckets) }),
  });
  printResult(
    flags.json === true,
    result,
    () => `${result.created ? 'created' : 'checked'} the outbox in schema '${result.schema}' (${result.buckets} ordering buckets)`,
  );
}
