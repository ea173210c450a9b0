import { postgresOutboxStatus, type OutboxStatus } from '../../postgres/migrate.js';
import { storeFor, storeKindOf } from '../../store/store-url.js';
import type { SlotStatus } from '../../postgres/logical-setup.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { bytes, duration, printResult, table } from '../output.js';

/** Flags of `herald status`. */
export interface StatusFlags extends Partial<HeraldConfig> {
  config?: string;
  json?: boolean;
  /** Warn when the slot keeps more unconfirmed WAL than this many bytes. */
  maxLag?: number;
}

/**
 * `herald status`: pending events, the oldest one's age and dead letters, per topic; and, when
 * the logical relay's slot exists, its lag in bytes and time, with warnings (also on stderr)
 * when the lag passes `--max-lag` or PostgreSQL is about to invalidate the slot.
 */
export async function statusCommand(flags: StatusFlags): Promise<void> {
  const config = await loadConfig(flags);
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const schema = config.schema === undefined ? {} : { schema: config.schema };
  // Only PostgreSQL has a replication slot to report; the other stores answer the common port.
  const status: OutboxStatus =
    storeKindOf(database) === 'postgres'
      ? await postgresOutboxStatus(database, { ...schema, ...(config.slot === undefined ? {} : { slot: config.slot }) })
      : await (await storeFor(database, schema)).status();
  const warnings = status.slot ? slotWarnings(status.slot, flags.maxLag ?? 256 * 1024 * 1024) : [];
  for (const w of warnings) process.stderr.write(`herald: warning: ${w}\n`);
  printResult(flags.json === true, { ...status, warnings }, () => {
    const lines = [
      `pending ${status.pending}, oldest ${duration(status.oldestPendingSeconds)}, dead-lettered ${status.deadLettered}, live relays ${status.relays}`,
    ];
    const s = status.slot;
    if (s) {
      lines.push(
        `slot ${s.slot}: ${s.active ? 'streaming' : 'no relay streaming'}, lag ${bytes(s.lagBytes)}` +
          ` (${s.lagSeconds === null ? 'no lag measured' : duration(s.lagSeconds)}), last delivery ${s.lastDeliverySeconds === null ? 'none yet' : `${duration(s.lastDeliverySeconds)} ago`},` +
          ` WAL ${s.walStatus}${s.safeWalBytes === null ? '' : `, ${bytes(s.safeWalBytes)} until invalidation`}, parked ${s.parked}`,
      );
    }
    if (status.topics.length > 0) {
      lines.push(
        '',
        table(
          ['topic', 'pending', 'oldest', 'retrying', 'dead'],
          status.topics.map((t) => [t.topic, t.pending, duration(t.oldestPendingSeconds), t.retrying, t.deadLettered]),
        ),
      );
    }
    return lines.join('\n');
  });
}

/** What an operator must look at: a slot lagging past the threshold, or WAL about to be removed. */
export function slotWarnings(s: SlotStatus, maxLagBytes: number): string[] {
  const warnings: string[] = [];
  if (s.walStatus === 'lost') {
    warnings.push(`slot ${s.slot} was invalidated; run 'herald migrate --source logical --recreate-slot'`);
  } else if (s.walStatus === 'unreserved') {
    warnings.push(`slot ${s.slot} needs WAL that PostgreSQL may remove at the next checkpoint; the relay must catch up now`);
  }
  if (s.lagBytes !== null && s.lagBytes > maxLagBytes) {
    warnings.push(
      `slot ${s.slot} keeps ${bytes(s.lagBytes)} of WAL unconfirmed (threshold ${bytes(maxLagBytes)})${s.active ? '' : '; no relay is streaming it'}`,
    );
  }
  return warnings;
}
