import { migratePostgres, type MigrationResult } from '../../postgres/migrate.js';
import { relayGrants } from '../../postgres/logical-setup.js';
import { outboxNames } from '../../postgres/schema.js';
import { storeFor, storeKindOf } from '../../store/store-url.js';
import { HeraldError, ErrorCodes } from '../../errors.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { printResult } from '../output.js';

/** Flags of `herald migrate`. */
export interface MigrateFlags extends Partial<HeraldConfig> {
  config?: string;
  json?: boolean;
  recreateSlot?: boolean;
  relayRole?: string;
  /** PostgreSQL: `true` (`--notify`) creates the NOTIFY trigger, `false` (`--no-notify`) drops it; absent keeps it as it is. */
  notify?: boolean;
}

/**
 * `herald migrate`: creates or checks the outbox tables; safe to run on every deploy. With
 * `--source logical` it also creates the publication and the replication slot, and prints the
 * grants of a least-privilege relay role. On PostgreSQL, `--no-notify` drops the NOTIFY trigger
 * and `--notify` puts it back; without either, the outbox keeps the one it has.
 */
export async function migrateCommand(flags: MigrateFlags): Promise<void> {
  const config = await loadConfig(flags);
  const logical = config.source === 'logical';
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const options = {
    ...(config.schema === undefined ? {} : { schema: config.schema }),
    ...(config.buckets === undefined ? {} : { buckets: Number(config.buckets) }),
  };
  const kind = storeKindOf(database);
  if (logical && kind !== 'postgres') throw logicalNeedsPostgres(kind);
  if (flags.notify === true && kind !== 'postgres') throw notifyNeedsPostgres(kind);
  const notify = flags.notify === undefined || kind !== 'postgres' ? {} : { notify: flags.notify };
  const result: MigrationResult =
    kind !== 'postgres'
      ? await (await storeFor(database, options)).migrate()
      : await migratePostgres(database, {
          ...options,
          ...notify,
          ...(logical
            ? {
                logical: {
                  ...(config.slot === undefined ? {} : { slot: config.slot }),
                  ...(config.publication === undefined ? {} : { publication: config.publication }),
                  recreateSlot: flags.recreateSlot === true,
                },
              }
            : {}),
        });
  const grants = logical ? relayGrants(outboxNames({ schema: result.schema }), flags.relayRole ?? 'herald_relay') : undefined;
  printResult(flags.json === true, { ...result, ...(grants ? { relayGrants: grants } : {}) }, () => {
    const lines = [
      `${result.created ? 'created' : 'checked'} the outbox in ${kind === 'sqlite' ? 'file' : 'schema'} '${result.schema}' (${result.buckets} ordering buckets)`,
    ];
    if (result.notify !== undefined) lines.push(notifyLine(result.notify));
    const l = result.logical;
    if (l) {
      lines.push(
        `${l.createdPublication ? 'created' : 'checked'} publication '${l.publication}' (inserts into the outbox table only)`,
        l.createdSlot
          ? `created replication slot '${l.slot}'; ${l.handedOver} event(s) already in the outbox were handed to the relay's backlog`
          : `checked replication slot '${l.slot}'`,
        '',
        `-- the logical relay needs only these privileges (role '${flags.relayRole ?? 'herald_relay'}'; set a password or use your auth method):`,
        ...grants!.map((g) => `${g};`),
      );
    }
    return lines.join('\n');
  });
}

/** The wake mode in one line, as `herald migrate` and `herald status` print it. */
export function notifyLine(notify: boolean): string {
  return notify
    ? 'NOTIFY trigger on: polling relays are woken at commit (--no-notify drops it)'
    : 'NOTIFY trigger off: polling relays find new events by their idle poll; commits skip the notify lock (--notify puts it back)';
}

/** Only PostgreSQL has LISTEN/NOTIFY; the other stores' relays always poll. */
function notifyNeedsPostgres(kind: string): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `option 'notify': the ${kind} store has no NOTIFY; its relays always poll: drop --notify`,
    { details: { option: 'notify' } },
  );
}

/** `--source logical` reads PostgreSQL's WAL; the other stores have the polling relay only. */
export function logicalNeedsPostgres(kind: string): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `option 'source' is 'logical', which reads PostgreSQL's write-ahead log; the ${kind} store has the polling relay only: drop --source logical`,
    { details: { option: 'source' } },
  );
}
