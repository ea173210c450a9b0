import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from './identifiers.js';

/** Options that shape the PostgreSQL outbox tables. Defaults are in {@link outboxDefaults}. */
export interface PostgresOutboxSchemaOptions {
  /** Schema that holds Herald's tables. Default `herald`. */
  readonly schema?: string;
  /**
   * Number of ordering buckets. Every partition key hashes to one bucket; one relay at a time
   * owns a bucket, which is how several relays keep per-key order. Fixed at the first migrate.
   * Default 32.
   */
  readonly buckets?: number;
}

/** The defaults of {@link PostgresOutboxSchemaOptions}, in one table. */
export const outboxDefaults = { schema: 'herald', buckets: 32 } as const;

/** Resolved, quoted names of the outbox objects in one schema. */
export interface OutboxNames {
  readonly schema: string;
  readonly outbox: string;
  readonly deadLetter: string;
  readonly lease: string;
  readonly relays: string;
  readonly meta: string;
  /** Events the logical relay holds back behind a failed event of their key (and slot backlogs). */
  readonly parked: string;
  /** Per replication slot: the last event the logical relay delivered. */
  readonly progress: string;
  /** The outbox id sequence, also used for ids of parked and dead-lettered WAL messages. */
  readonly idSequence: string;
  /** The logical message prefix of WAL-message appends, passed as a value. */
  readonly messagePrefix: string;
  /** The LISTEN/NOTIFY channel, unquoted (it is passed as a value, not an identifier). */
  readonly channel: string;
  readonly buckets: number;
}

/** Validates the options once and derives every quoted name from them. */
export function outboxNames(options: PostgresOutboxSchemaOptions = {}): OutboxNames {
  const schemaName = options.schema ?? outboxDefaults.schema;
  const schema = quoteIdent(schemaName, 'schema');
  const buckets = options.buckets ?? outboxDefaults.buckets;
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 1024) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'buckets' must be an integer from 1 to 1024, got ${String(buckets)}`, {
      details: { option: 'buckets' },
    });
  }
  return {
    schema,
    outbox: `${schema}."outbox"`,
    deadLetter: `${schema}."dead_letter"`,
    lease: `${schema}."relay_lease"`,
    relays: `${schema}."relay_instance"`,
    meta: `${schema}."meta"`,
    parked: `${schema}."relay_parked"`,
    progress: `${schema}."relay_progress"`,
    idSequence: `${schema}."outbox_id_seq"`,
    messagePrefix: `herald:${schemaName}`,
    channel: `${schemaName}_outbox`,
    buckets,
  };
}

/**
 * Fencing (schema version 3), added to existing installations in place: `epoch` counts the owner
 * changes of a bucket, and `stale_owners` lists relays whose lease was taken over while they still
 * held it (expired, not released), to be fenced at the broker by the new owner. A trigger keeps
 * both, so that every relay version that claims a bucket, old or new, bumps its epoch.
 */
function leaseFencingSql(n: OutboxNames): string[] {
  return [
    `ALTER TABLE ${n.lease} ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0`,
    `ALTER TABLE ${n.lease} ADD COLUMN IF NOT EXISTS stale_owners uuid[] NOT NULL DEFAULT '{}'`,
    // The last 16 stale owners at most: older ones were fenced by an owner in between, or have
    // been gone for many leases.
    `CREATE OR REPLACE FUNCTION ${n.schema}."lease_epoch"() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
       IF NEW.owner IS NOT NULL AND NEW.owner IS DISTINCT FROM OLD.owner THEN
         NEW.epoch := OLD.epoch + 1;
         IF OLD.owner IS NOT NULL AND NOT OLD.owner = ANY(OLD.stale_owners) THEN
           NEW.stale_owners := (array_append(OLD.stale_owners, OLD.owner))[greatest(1, cardinality(OLD.stale_owners) - 14):];
         END IF;
       END IF;
       RETURN NEW;
     END $$`,
    `CREATE OR REPLACE TRIGGER relay_lease_epoch BEFORE UPDATE OF owner ON ${n.lease} FOR EACH ROW EXECUTE FUNCTION ${n.schema}."lease_epoch"()`,
  ];
}

/** The event's columns as the dead-letter and parked tables hold them (the outbox adds `bucket`). */
const EVENT_COLUMNS = `event_id uuid NOT NULL, topic text NOT NULL, partition_key text NOT NULL, type text NOT NULL,
      source text NOT NULL, subject text, time timestamptz NOT NULL, dataschema text, traceparent text, data json NOT NULL`;

/** Bumped when the table layout changes; recorded in the meta table. */
export const SCHEMA_VERSION = 3;

/**
 * The idempotent DDL for the PostgreSQL outbox: every statement can run again on an existing
 * installation without changing it. Run inside one transaction under an advisory lock so that
 * two `herald migrate` at once do not race.
 */
export function migrationSql(n: OutboxNames): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${n.schema}`,
    `CREATE TABLE IF NOT EXISTS ${n.meta} (key text PRIMARY KEY, value text NOT NULL)`,
    `INSERT INTO ${n.meta} (key, value) VALUES ('buckets', '${n.buckets}') ON CONFLICT (key) DO NOTHING`,
    // A stable id of this outbox, unique across databases: the logical relay's Kafka transactional
    // id is built from it and the slot, so that two outboxes with the same slot name never fence
    // each other.
    `INSERT INTO ${n.meta} (key, value) VALUES ('outbox_id', gen_random_uuid()::text) ON CONFLICT (key) DO NOTHING`,
    `INSERT INTO ${n.meta} (key, value) VALUES ('schema_version', '${SCHEMA_VERSION}') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    // One row per event. CloudEvents attributes are columns so the backlog can be queried;
    // `bucket` is derived in the database so that every writer, in any language, agrees on it.
    `CREATE TABLE IF NOT EXISTS ${n.outbox} (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      event_id uuid NOT NULL,
      topic text NOT NULL,
      partition_key text NOT NULL,
      bucket smallint NOT NULL GENERATED ALWAYS AS ((hashtext(partition_key) & 2147483647) % ${n.buckets}) STORED,
      type text NOT NULL,
      source text NOT NULL,
      subject text,
      time timestamptz NOT NULL,
      dataschema text,
      traceparent text,
      data json NOT NULL,
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      attempts integer NOT NULL DEFAULT 0,
      retry_at timestamptz,
      last_error text
    )`,
    // No index on bucket: the relay walks the primary key in id order and filters its buckets,
    // which stays cheap with any backlog, and every index would slow down each append.
    // Tiny partial index: only rows waiting for a retry, used to hold back the rest of their key.
    `CREATE INDEX IF NOT EXISTS outbox_retrying_keys ON ${n.outbox} (partition_key) WHERE retry_at IS NOT NULL`,
    `CREATE TABLE IF NOT EXISTS ${n.deadLetter} (
      id bigint PRIMARY KEY,
      ${EVENT_COLUMNS},
      created_at timestamptz NOT NULL,
      attempts integer NOT NULL,
      last_error text NOT NULL,
      failed_at timestamptz NOT NULL DEFAULT now()
    )`,
    // Used by the logical relay only. A parked event waits here, in stream order (`id`), while an
    // earlier event of its key waits for a retry; ids come from the outbox sequence so that they
    // never collide with outbox ids in the dead-letter table.
    `CREATE TABLE IF NOT EXISTS ${n.parked} (
      id bigint PRIMARY KEY DEFAULT nextval('${n.idSequence}'::regclass),
      ${EVENT_COLUMNS},
      created_at timestamptz NOT NULL DEFAULT now(),
      attempts integer NOT NULL DEFAULT 0,
      retry_at timestamptz,
      last_error text
    )`,
    `CREATE INDEX IF NOT EXISTS relay_parked_keys ON ${n.parked} (partition_key, id)`,
    // The last stream position whose events are all delivered: the transaction's commit LSN and
    // how many of its events are done, so a restart skips them even inside a large transaction.
    `CREATE TABLE IF NOT EXISTS ${n.progress} (
      slot text PRIMARY KEY,
      commit_lsn pg_lsn NOT NULL,
      events_done integer NOT NULL,
      last_event_id uuid,
      commit_time timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
    `CREATE TABLE IF NOT EXISTS ${n.lease} (bucket smallint PRIMARY KEY, owner uuid, expires_at timestamptz)`,
    `INSERT INTO ${n.lease} (bucket) SELECT generate_series(0, ${n.buckets - 1}) ON CONFLICT DO NOTHING`,
    ...leaseFencingSql(n),
    `CREATE TABLE IF NOT EXISTS ${n.relays} (id uuid PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), seen_at timestamptz NOT NULL DEFAULT now())`,
    // The function is kept in both wake modes (it costs nothing unused); the trigger that calls
    // it is created or dropped by migrate, see `notifyTriggerSql`.
    `CREATE OR REPLACE FUNCTION ${n.schema}."notify_outbox"() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN PERFORM pg_notify('${n.channel}', ''); RETURN NULL; END $$`,
  ];
}

/** The meta key that records whether the outbox has its NOTIFY trigger (`on` or `off`). */
export const NOTIFY_META_KEY = 'notify';

/** The name of the outbox's NOTIFY trigger. */
export const NOTIFY_TRIGGER = 'outbox_notify';

/**
 * The NOTIFY trigger that wakes polling relays at commit. A statement-level trigger sends one
 * notification per inserting statement, and PostgreSQL folds identical notifications of one
 * transaction into one, delivered at commit. The price: every committing transaction that
 * notified takes PostgreSQL's global notify-queue lock during its commit, so such commits
 * serialise there; that is why it is optional (`herald migrate --no-notify`).
 */
export function notifyTriggerSql(n: OutboxNames): string[] {
  return [
    `CREATE OR REPLACE TRIGGER ${NOTIFY_TRIGGER} AFTER INSERT ON ${n.outbox} FOR EACH STATEMENT EXECUTE FUNCTION ${n.schema}."notify_outbox"()`,
    // An outbox once migrated for the logical relay by an older Herald has it disabled.
    `ALTER TABLE ${n.outbox} ENABLE TRIGGER ${NOTIFY_TRIGGER}`,
  ];
}

/**
 * Whether the outbox's NOTIFY trigger is present and enabled: what decides if polling relays are
 * woken at commit. Read from the catalog, not from the meta row, so that it is true of the
 * table as it is (also after a hand-made `DROP TRIGGER`). Needs no privilege beyond the catalog.
 */
export const notifyInEffectSql = (n: OutboxNames): string =>
  `SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('${n.outbox.replaceAll("'", "''")}') AND tgname = '${NOTIFY_TRIGGER}' AND tgenabled <> 'D') AS notify`;
