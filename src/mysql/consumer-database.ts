import type { ConsumerDatabase } from '../patterns/consumer-database.js';
import type { InboxDeadLetter, InboxOptions, InboxOutcome } from '../postgres/inbox.js';
import { checkMysqlUrl, connectMysql, isMysqlConnectionError, type MysqlConnection } from './connect.js';
import { MysqlInbox, mysqlInboxError } from './inbox.js';

/** The MySQL/MariaDB side of `SelfConsumer`: one mysql2 connection, `beginTransaction()`/`commit()` per event, the {@link MysqlInbox}. */
export class MysqlConsumerDatabase implements ConsumerDatabase {
  readonly #url: string;
  readonly #inbox: MysqlInbox;
  #db: MysqlConnection | undefined;

  /** Validates the URL (`CONFIG_INVALID` naming `database`) and the inbox names; connects on first use. */
  constructor(url: string, inbox: InboxOptions = {}) {
    checkMysqlUrl(url, 'database');
    this.#url = url;
    this.#inbox = new MysqlInbox(inbox);
  }

  get deadLetterTable(): string {
    return this.#inbox.names.deadLetter;
  }

  async check(consumer: string): Promise<void> {
    const db = await this.#connection();
    const n = this.#inbox.names;
    try {
      await db.query(`SELECT 1 FROM ${n.inbox} LIMIT 0`);
      await db.query(`SELECT 1 FROM ${n.deadLetter} LIMIT 0`);
    } catch (cause) {
      throw mysqlInboxError(cause, `cannot start consumer '${consumer}'`, n);
    }
  }

  async transaction<T>(_eventId: string, work: (tx: unknown) => Promise<T>): Promise<T> {
    const db = await this.#connection();
    try {
      await db.beginTransaction();
      const done = await work(db);
      await db.commit();
      return done;
    } catch (err) {
      try {
        await db.rollback();
      } catch {
        // A connection that cannot even roll back is dropped; the next attempt opens a new one.
        if (this.#db === db) this.#db = undefined;
        db.destroy();
      }
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
    return code === 'ER_LOCK_DEADLOCK' || code === 'ER_LOCK_WAIT_TIMEOUT' || isMysqlConnectionError(err);
  }

  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.end().catch(() => db.destroy());
  }

  async #connection(): Promise<MysqlConnection> {
    if (this.#db === undefined) {
      const db = await connectMysql(this.#url);
      // Handlers write the service's tables unqualified, as the service does: select the URL's database.
      const name = decodeURIComponent(new URL(this.#url).pathname.slice(1));
      if (name !== '') {
        try {
          await db.query(`USE \`${name.replaceAll('`', '``')}\``);
        } catch (cause) {
          db.destroy();
          throw mysqlInboxError(
            cause,
            `cannot select the service database '${name}' of the consumer (the path of --database)`,
            this.#inbox.names,
          );
        }
      }
      db.on('end', () => this.#db === db && (this.#db = undefined));
      this.#db = db;
    }
    return this.#db;
  }
}
