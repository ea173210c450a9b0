import { HeraldError, ErrorCodes } from '../errors.js';
import { connectPg, isConnectionError, isLoginRefused, loginRefusedMidRun, type PgClient } from './connect.js';
import { databaseError } from './outbox.js';

/**
 * The one PostgreSQL connection of a relay source, opened on first use and replaced after the
 * server dropped it (a restart, a network cut): the failing call rejects with a retryable
 * `DATABASE_ERROR`, and the next call connects again. Errors name what was being done; a missing
 * privilege is a `PERMISSION_DENIED` that points to the grants `herald migrate` prints. A login
 * refused after the session had connected once (the password rotated mid-run) is retryable: the
 * relay pauses with backoff instead of exiting; the first connection's refusal is not (a wrong
 * password at start-up is a configuration mistake).
 */
export class PgSession {
  readonly #url: string;
  readonly #applicationName: string;
  readonly #onConnect: ((db: PgClient) => Promise<void>) | undefined;
  #db: PgClient | undefined;
  #connectedOnce = false;

  /** `onConnect` runs after every new connection, before it is used. */
  constructor(url: string, applicationName: string, onConnect?: (db: PgClient) => Promise<void>) {
    this.#url = url;
    this.#applicationName = applicationName;
    this.#onConnect = onConnect;
  }

  /** The open connection, if any, without connecting. */
  get current(): PgClient | undefined {
    return this.#db;
  }

  async connection(): Promise<PgClient> {
    if (this.#db) return this.#db;
    let db: PgClient;
    try {
      db = await connectPg(this.#url, this.#applicationName);
    } catch (cause) {
      if (this.#connectedOnce && cause instanceof HeraldError && isLoginRefused(cause)) {
        throw loginRefusedMidRun(cause, 'cannot reconnect to postgresql');
      }
      throw cause;
    }
    this.#connectedOnce = true;
    db.on('end', () => {
      if (this.#db === db) this.#db = undefined;
    });
    this.#db = db;
    await this.#onConnect?.(db);
    return db;
  }

  /**
   * Runs one statement; `what` is the start of the error message (`cannot read the outbox`).
   * With `name`, the statement is prepared once per connection (for hot statements whose
   * planning costs more than running them).
   */
  async query(text: string, params: unknown[], what: string, name?: string): Promise<{ rows: Record<string, unknown>[] }> {
    const db = await this.connection();
    try {
      return await db.query(name === undefined ? { text, values: params } : { name, text, values: params });
    } catch (cause) {
      if (this.#db === db && isConnectionError(cause)) {
        this.#db = undefined;
        await db.end().catch(() => undefined);
      }
      if ((cause as { code?: string }).code === '42501') {
        throw new HeraldError(
          ErrorCodes.PERMISSION_DENIED,
          `${what}: ${(cause as Error).message}; grant the privileges that 'herald migrate --source logical' prints`,
          { cause },
        );
      }
      throw databaseError(cause, what);
    }
  }

  /** Disconnects; the session connects again if used later. */
  async close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    await db?.end().catch(() => undefined);
  }
}
