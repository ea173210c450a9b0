import type { Contract } from '../contracts/contract.js';
import { maskCredentials } from '../brokers/mask.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { readExpectedEvents } from './reconcile-expected.js';
import { readKafkaEvents, type KafkaRead } from './reconcile-kafka.js';
import { readWarehouseEvents, type WarehouseRead } from './reconcile-warehouse.js';
import { reconcile, type ObservedEvent, type ReconcileReport } from './reconcile.js';

/** Options of {@link runReconcile}: explicit values, no configuration files or environment. */
export interface ReconcileRunOptions {
  /** `postgres://` URL of the service database. */
  readonly database: string;
  /** The expected-events query; see `readExpectedEvents`. */
  readonly expectedSql: string;
  /** `kafka://host:port[,host:port]` (or `host:port,...`); checked as the source `kafka`. */
  readonly broker?: string;
  /** Topics to read; default: the topics of `contracts`. */
  readonly topics?: readonly string[];
  /** `duckdb:<file>` or `postgres://...?schema=`; checked as the source `warehouse`. */
  readonly warehouse?: string;
  /** Contracts: the default topics, and the warehouse tables to read (else every table with `_event_id`). */
  readonly contracts?: readonly Contract[];
  readonly window?: string;
  readonly from?: Date | string;
  readonly to?: Date | string;
  /** Longest the Kafka read may take, in ms. */
  readonly timeoutMs?: number;
  /** Called as the Kafka read advances (see `KafkaReadOptions.onProgress`). */
  readonly onKafkaProgress?: (offsetsRead: number, offsetsTotal: number) => void;
}

/** What was read, besides the findings: enough to tell an empty source from a wrong address. */
export interface ReconcileInputs {
  readonly expectedRows: number;
  readonly kafka?: { readonly topics: readonly string[]; readonly messages: number; readonly endOffsets: KafkaRead['endOffsets'] };
  readonly warehouse?: { readonly url: string; readonly tables: readonly string[]; readonly rows: number; readonly deadLetters: number };
}

/** What {@link runReconcile} returns and `herald reconcile --json` prints. */
export interface ReconcileRun extends ReconcileReport {
  readonly inputs: ReconcileInputs;
}

/**
 * Reads the expected events from PostgreSQL, then the broker and the warehouse (at the same
 * time), and reconciles them (see `reconcile`). Sources not given are not checked; at least one
 * must be. Reading changes nothing anywhere: the database and a PostgreSQL warehouse are read in
 * read-only transactions, Kafka without a consumer group, DuckDB read-only. Rejects with
 * `CONFIG_INVALID` for a missing or malformed option, and with the readers' errors
 * (`DATABASE_ERROR`, `BROKER_UNAVAILABLE`, `TOPIC_NOT_FOUND`).
 */
export async function runReconcile(options: ReconcileRunOptions): Promise<ReconcileRun> {
  if (options.broker === undefined && options.warehouse === undefined) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, 'nothing to reconcile against: pass --broker (kafka://...) and/or --warehouse', {
      details: { option: 'broker' },
    });
  }
  const brokers = options.broker === undefined ? undefined : kafkaBrokers(options.broker);
  const topics = options.topics ?? [...new Set((options.contracts ?? []).map((c) => c.topic))].sort();
  if (brokers !== undefined && topics.length === 0) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, "missing option 'topics': pass --topics, or --contracts to read their topics", {
      details: { option: 'topics' },
    });
  }
  const expected = await readExpectedEvents({ database: options.database, sql: options.expectedSql });
  const [kafka, warehouse] = await Promise.all([
    brokers === undefined
      ? undefined
      : readKafkaEvents({
          brokers,
          topics,
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options.onKafkaProgress === undefined ? {} : { onProgress: options.onKafkaProgress }),
        }),
    options.warehouse === undefined
      ? undefined
      : readWarehouseEvents({ warehouse: options.warehouse, ...(options.contracts ? { contracts: options.contracts } : {}) }),
  ]);
  const observed: Record<string, ObservedEvent[]> = {};
  if (kafka) observed.kafka = kafka.events;
  if (warehouse) observed.warehouse = warehouse.events;
  const report = reconcile(expected, observed, {
    ...(options.window === undefined ? {} : { window: options.window }),
    ...(options.from === undefined ? {} : { from: options.from }),
    ...(options.to === undefined ? {} : { to: options.to }),
  });
  return { ...report, inputs: inputsOf(expected.length, topics, kafka, options.warehouse, warehouse) };
}

function inputsOf(
  expectedRows: number,
  topics: readonly string[],
  kafka: KafkaRead | undefined,
  url: string | undefined,
  warehouse: WarehouseRead | undefined,
): ReconcileInputs {
  return {
    expectedRows,
    ...(kafka ? { kafka: { topics, messages: kafka.messages, endOffsets: kafka.endOffsets } } : {}),
    ...(warehouse && url !== undefined
      ? { warehouse: { url: maskCredentials(url), tables: warehouse.tables, rows: warehouse.rows, deadLetters: warehouse.deadLetters } }
      : {}),
  };
}

/** Only Kafka can be read back whole, from the start, without disturbing its consumers. */
function kafkaBrokers(broker: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(broker)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'kafka') {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'broker' must be a kafka:// URL for reconcile (other brokers cannot be read back from the start), got '${maskCredentials(broker)}'`,
      { details: { option: 'broker' } },
    );
  }
  return broker;
}
