import { HeraldError, ErrorCodes } from '../errors.js';
import type { ConsumerDatabase } from '../patterns/consumer-database.js';
import { checkPostgresUrl, connectPg, isConnectionError, type PgClient } from './connect.js';
import { PostgresInbox, inboxError, type InboxDeadLetter, type InboxOptions, type InboxOutcome } from './inbox.js';

/** The PostgreSQL side of `SelfConsumer`: one node-postgres client, `BEGIN`/`COMMIT` per event, the {@link PostgresInbox}. */
export class PostgresConsumerDatabase implements ConsumerDatabase {
  readonly #url: string;
  readonly #inbox: PostgresInbox;
  #applicationName = 'herald-consume';
  #client: PgClient | undefined;

  /** Validates the URL (`CONFIG_INVALID` naming `database`) and the inbox names; connects on first use. */
  constructor(url: string, inbox: InboxOptions = {}) {
    checkPostgresUrl(url, 'database');
    this.#url = url;
    this.#inbox = new PostgresInbox(inbox);
  }

  get deadLetterTable(): string {
    return this.#inbox.names.deadLetter;
  }

  async check(consumer: string): Promise<void> {
    this.#applicationName = `herald-consume:${consumer}`.slice(0, 63);
    const client = await this.#connection();
    try {
      await client.query(`SELECT FROM ${this.#inbox.names.inbox} LIMIT 0`);
      await client.query(`SELECT FROM ${this.#inbox.names.deadLetter} LIMIT 0`);
    } catch (cause) {
      throw inboxError(cause, `cannot start consumer '${consumer}'`, this.#inbox.names);
    }
  }

  async transaction<T>(eventId: string, work: (tx: unknown) => Promise<T>): Promise<T> {
    const client = await this.#connection();
    try {
      await client.query('BEGIN');
      const done = await work(client);
      // A handler that caught a failed statement and returned leaves the transaction aborted;
      // PostgreSQL then answers COMMIT with ROLLBACK, which must not count as applied.
      const committed = await client.query('COMMIT');
      if (committed.command === 'ROLLBACK') {
        throw new HeraldError(
          ErrorCodes.DATABASE_ERROR,
          `the transaction of event ${eventId} was aborted by a failed statement the handler did not rethrow; nothing was committed`,
        );
      }
      return done;
    } catch (err) {
      await this.#rollback(client);
      throw err;
    }
  }

  processOnce<T>(tx: unknown, consumer: string, eventId: string, apply: () => Promise<T>): Promise<InboxOutcome<T>> {
    return this.#inbox.processOnce(tx, consumer, eventId, apply);
  }

  deadLetter(tx: unknown, consumer: string, letter: InboxDeadLetter): Promise<boolean> {
    return this.#inbox.deadLetter(tx, consumer, letter);
  }

  isRetryable(err: unknown): boolean {
    const code = (err as { code?: string } | null)?.code;
    return code === '40001' || code === '40P01' || isConnectionError(err);
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }

  /** Rolls back; a connection that cannot even do that is dropped, and the next attempt opens a new one. */
  async #rollback(client: PgClient): Promise<void> {
    try {
      await client.query('ROLLBACK');
    } catch {
      if (this.#client === client) this.#client = undefined;
      await client.end().catch(() => undefined);
    }
  }

  async #connection(): Promise<PgClient> {
    this.#client ??= await connectPg(this.#url, this.#applicationName);
    return this.#client;
  }
}
