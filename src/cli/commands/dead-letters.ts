import { storeFor } from '../../store/store-url.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { printResult, table } from '../output.js';
import { progressLine } from '../progress.js';
import { requeueInBatches } from '../requeue-batches.js';

/** Flags of `herald dead-letters`. */
export interface DeadLetterFlags extends Partial<HeraldConfig> {
  config?: string;
  json?: boolean;
  requeue?: boolean;
  id?: string[];
  limit?: number;
}

/**
 * `herald dead-letters`: lists dead-lettered events, or moves them back to the outbox with
 * `--requeue`, 1000 per transaction (see `requeueInBatches`), with a progress line on stderr only
 * when it is a terminal and not `--json`.
 */
export async function deadLettersCommand(flags: DeadLetterFlags): Promise<void> {
  const config = await loadConfig(flags);
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const store = await storeFor(database, config.schema === undefined ? {} : { schema: config.schema });
  if (flags.requeue) {
    const progress = progressLine('requeued', { json: flags.json === true });
    let moved: number;
    try {
      moved = await requeueInBatches(store, flags.id?.length ? flags.id : undefined, (n, total) => progress.update(n, total));
    } finally {
      progress.end();
    }
    printResult(flags.json === true, { requeued: moved }, () => `requeued ${moved} event(s) into the outbox`);
    return;
  }
  const letters = await store.deadLetters(flags.limit);
  printResult(flags.json === true, letters, () =>
    letters.length === 0
      ? 'no dead letters'
      : table(
          ['event id', 'topic', 'key', 'attempts', 'failed at', 'last error'],
          letters.map((l) => [l.eventId, l.topic, l.partitionKey, l.attempts, l.failedAt, l.lastError.slice(0, 80)]),
        ),
  );
}
