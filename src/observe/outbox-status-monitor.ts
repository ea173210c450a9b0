import type { StoreStatus } from '../store/port.js';
import type { SlotStatus } from '../postgres/logical-setup.js';
import { silentLogger, type Logger } from './logger.js';

/** A store's status, with the replication slot where the store has one (PostgreSQL). */
export type MonitoredStatus = StoreStatus & { readonly slot?: SlotStatus };

/** Options of {@link OutboxStatusMonitor}. */
export interface OutboxStatusMonitorOptions {
  /** Reads the status: `store.status()`, or `postgresOutboxStatus` with the relay's slot. */
  readonly read: () => Promise<MonitoredStatus>;
  /** Time between two reads, in ms. Default 15000. */
  readonly intervalMs?: number;
  /**
   * The next read waits at least this many times as long as the last one took, so that a
   * backlog large enough to make the count slow is counted less often, never more than
   * 1/(factor+1) of the time. Default 10.
   */
  readonly backoffFactor?: number;
  /** Told after each read, with the error when it failed (for readiness). */
  readonly onRead?: (error: unknown) => void;
  readonly logger?: Logger;
}

/**
 * Keeps the outbox status (backlog and oldest-event age per topic, dead letters, the slot's lag)
 * fresh in memory, so that Prometheus scrapes and health probes read memory and never the
 * database. One read at a time, on a timer that does not keep the process alive; a failed read
 * keeps the last good status (with its time) and is retried at the next tick.
 */
export class OutboxStatusMonitor {
  readonly #read: () => Promise<MonitoredStatus>;
  readonly #intervalMs: number;
  readonly #factor: number;
  readonly #onRead: (error: unknown) => void;
  readonly #log: Logger;
  #status: MonitoredStatus | undefined;
  #readAt: number | undefined;
  #lastDurationMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #inFlight: Promise<void> | undefined;

  constructor(options: OutboxStatusMonitorOptions) {
    this.#read = options.read;
    this.#intervalMs = options.intervalMs ?? 15_000;
    this.#factor = options.backoffFactor ?? 10;
    this.#onRead = options.onRead ?? (() => undefined);
    this.#log = options.logger ?? silentLogger;
  }

  /** The last status read, or undefined before the first read succeeded. */
  get status(): MonitoredStatus | undefined {
    return this.#status;
  }

  /** When the last good status was read (ms since the epoch), or undefined. */
  get readAt(): number | undefined {
    return this.#readAt;
  }

  /** How long the last read took, in seconds. */
  get lastDurationSeconds(): number {
    return this.#lastDurationMs / 1000;
  }

  /** Reads once now and then on the timer; resolves after the first read (failed or not). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.refresh();
  }

  /** Reads now, unless a read is in flight (then waits for that one). */
  refresh(): Promise<void> {
    this.#inFlight ??= this.#readOnce().finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    return this.#inFlight;
  }

  /** Stops the timer; a read in flight finishes and is kept. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  async #readOnce(): Promise<void> {
    const started = Date.now();
    try {
      this.#status = await this.#read();
      this.#readAt = Date.now();
      this.#onRead(undefined);
    } catch (err) {
      this.#log.warn('cannot read the outbox status for metrics', { error: err instanceof Error ? err.message : String(err) });
      this.#onRead(err);
    } finally {
      this.#lastDurationMs = Date.now() - started;
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const wait = Math.max(this.#intervalMs, this.#lastDurationMs * this.#factor);
    this.#timer = setTimeout(() => void this.refresh(), wait);
    this.#timer.unref();
  }
}
