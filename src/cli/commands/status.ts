import { postgresOutboxStatus, type OutboxStatus } from '../../postgres/migrate.js';
import { storeFor, storeKindOf } from '../../store/store-url.js';
import type { OutboxStore } from '../../store/port.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { bytes, duration, printResult, table } from '../output.js';
import { statusWarnings, statusWarningDefaults } from '../status-warnings.js';
import { parseWatchSeconds, watch } from '../watch.js';
import { notifyLine } from './migrate.js';

/** Flags of `herald status`. */
export interface StatusFlags extends Partial<HeraldConfig> {
  config?: string;
  json?: boolean;
  /** Warn when the slot keeps more unconfirmed WAL than this many bytes. */
  maxLag?: number;
  /** Warn when the oldest pending event is older than this many seconds. */
  maxAge?: number;
  /** Print the warnings but exit 0 (as flake8's and ruff's `--exit-zero`). */
  exitZero?: boolean;
  /** Re-render every N seconds (`true`: every 2) until SIGINT. */
  watch?: boolean | string | number;
}

/**
 * `herald status`: pending events, the oldest one's age and dead letters, per topic; and, when
 * the logical relay's slot exists, its lag in bytes and time and the outbox rows it has passed.
 * Warnings (see `statusWarnings`: dead letters, a backlog older than `--max-age`, rows delivered
 * but not deleted, a slot past `--max-lag` or about to be invalidated) go to stderr and into the JSON, and make the command exit 1 so it can gate a
 * deploy or a cron check; `--exit-zero` keeps 0. Connection and option errors exit 1 and 2 as
 * everywhere. With `--watch` it renders again every N seconds (clearing the screen only when
 * stdout is a terminal; with `--json` one object per line, each with its `time`) until SIGINT,
 * then exits 0.
 */
export async function statusCommand(flags: StatusFlags): Promise<void> {
  const config = await loadConfig(flags);
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const interval = flags.watch === undefined || flags.watch === false ? undefined : parseWatchSeconds(flags.watch);
  const read = statusReader(database, config);
  const json = flags.json === true;
  const thresholds = {
    maxLagBytes: flags.maxLag ?? statusWarningDefaults.maxLagBytes,
    maxAgeSeconds: flags.maxAge ?? statusWarningDefaults.maxAgeSeconds,
  };
  const once = async (stamped: boolean): Promise<string[]> => {
    const status = await read();
    const warnings = statusWarnings(status, thresholds);
    for (const w of warnings) process.stderr.write(`herald: warning: ${w}\n`);
    const value = stamped ? { time: new Date().toISOString(), ...status, warnings } : { ...status, warnings };
    printResult(json, value, () => human(status));
    return warnings;
  };
  if (interval === undefined) {
    const warnings = await once(false);
    if (warnings.length > 0 && flags.exitZero !== true) process.exitCode = 1;
    return;
  }
  const clear = !json && process.stdout.isTTY === true;
  await watch({
    intervalSeconds: interval,
    title: 'herald status',
    clear,
    render: async (n) => {
      // Without a screen to redraw, a blank line keeps one render apart from the next.
      if (n > 0 && !clear && !json) process.stdout.write('\n');
      await once(true);
    },
  });
}

/** Reads the status: PostgreSQL with its slot, any other store through the common port (opened once). */
function statusReader(database: string, config: HeraldConfig): () => Promise<OutboxStatus> {
  const schema = config.schema === undefined ? {} : { schema: config.schema };
  // Only PostgreSQL has a replication slot to report; the other stores answer the common port.
  if (storeKindOf(database) === 'postgres') {
    return () => postgresOutboxStatus(database, { ...schema, ...(config.slot === undefined ? {} : { slot: config.slot }) });
  }
  let store: Promise<OutboxStore> | undefined;
  return async () => (await (store ??= storeFor(database, schema))).status();
}

function human(status: OutboxStatus): string {
  const lines = [
    `pending ${status.pending}, oldest ${duration(status.oldestPendingSeconds)}, dead-lettered ${status.deadLettered}, live relays ${status.relays}`,
  ];
  if (status.notify !== undefined) lines.push(notifyLine(status.notify));
  const s = status.slot;
  if (s) {
    lines.push(
      `slot ${s.slot}: ${s.active ? 'streaming' : 'no relay streaming'}, lag ${bytes(s.lagBytes)}` +
        ` (${s.lagSeconds === null ? 'no lag measured' : duration(s.lagSeconds)}), last delivery ${s.lastDeliverySeconds === null ? 'none yet' : `${duration(s.lastDeliverySeconds)} ago`},` +
        ` WAL ${s.walStatus}${s.safeWalBytes === null ? '' : `, ${bytes(s.safeWalBytes)} until invalidation`}, parked ${s.parked}` +
        (s.deliveredNotDeleted ? `, delivered but not deleted ${s.deliveredNotDeleted}` : ''),
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
}
