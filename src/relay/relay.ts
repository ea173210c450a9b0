import { performance } from 'node:perf_hooks';
import { HeraldError, ErrorCodes, isHeraldError, messageOf } from '../errors.js';
import { deliveredOf, type Publisher } from '../brokers/publisher.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { withSendSpan } from '../observe/messaging-spans.js';
import { loadTracing, type Tracing } from '../observe/tracing.js';
import { backoffMs } from './backoff.js';
import { PublishFence } from './fencing.js';
import { recordedDespiteLeaseLost } from './lease-book.js';
import type { RelayRecord, RelaySource } from './source.js';
import { waitUntilWoken } from './wake.js';

/** Options of {@link Relay}. Defaults are in {@link relayDefaults}. */
export interface RelayOptions {
  readonly source: RelaySource;
  readonly publisher: Publisher;
  /** Most events handed to the broker in one batch. Default 500. */
  readonly batchSize?: number;
  /** Safety-net poll interval when no notification arrives, in ms. Default 2000. */
  readonly pollIntervalMs?: number;
  /** Failed attempts after which an event goes to the dead-letter store. Default 10. */
  readonly maxAttempts?: number;
  /** First retry delay, in ms. Default 500. */
  readonly retryBaseMs?: number;
  /** Longest retry delay, in ms. Default 30000. */
  readonly retryMaxMs?: number;
  readonly logger?: Logger;
  /** Told about each batch and pause, for metrics and health; see {@link RelayObserver}. */
  readonly observer?: RelayObserver;
}

/**
 * Hooks a relay calls as it works, so metrics and health checks can watch it without the relay
 * knowing about either. Called synchronously on the relay's path, at most a few times per batch:
 * an observer must be cheap and must not throw (a throw would be taken for a delivery failure).
 */
export interface RelayObserver {
  /** The source answered `next()` (the database is reachable). */
  sourceAnswered?(): void;
  /** The publisher settled a whole batch after `seconds`: resolved (`ok`) or rejected. */
  batchPublished?(events: number, seconds: number, ok: boolean): void;
  /** The relay paused on a retryable error (the broker or the database could not be reached). */
  paused?(error: HeraldError): void;
}

/** The defaults of {@link RelayOptions}, in one table. */
export const relayDefaults = { batchSize: 500, pollIntervalMs: 2000, maxAttempts: 10, retryBaseMs: 500, retryMaxMs: 30_000 } as const;

type RelaySettings = Required<Omit<RelayOptions, 'source' | 'publisher' | 'logger' | 'observer'>>;

/** Counters a relay keeps while it runs; they only grow. */
export interface RelayStats {
  /** Events the broker acknowledged and the source recorded. */
  delivered: number;
  /** Publish calls delivered whole (with a source that reads ahead, a batch goes out in two). */
  batches: number;
  /** Refused events scheduled for another attempt. */
  retried: number;
  /** Events moved to the dead-letter store. */
  deadLettered: number;
  /** Times the broker refused one event (each refusal is then retried or dead-lettered). */
  refused: number;
  /** Pauses because the broker could not be reached. */
  brokerOutages: number;
  /** Batches dropped (all but what their source recorded) because their lease moved to another relay (`LEASE_LOST`). */
  leaseLost: number;
}

/**
 * Moves events from a source to a publisher, one publish call at a time, so that per-key order is
 * the source's order. A batch is reported delivered only after the publisher resolved.
 *
 * Pipelining: with a source that can read ahead ({@link RelaySource.readAhead}), the relay reads
 * the next batch while a full batch is being published, and sends each batch in two chunks whose
 * recording (the DELETE) overlaps the send of the next chunk, so neither the SELECT nor the DELETE
 * costs time of its own on a backlog (whole batches for a publisher that asks for them,
 * {@link Publisher.wholeBatches}). Events sent but not yet recorded never exceed `batchSize`.
 * A chunk is sent only after the one before it was published whole; when a chunk failed, was
 * refused in part or lost its lease, or recording one failed, the rest of the batch and the batch
 * read ahead are dropped unsent and their events are read again, in order.
 *
 * Failures: when the broker cannot be reached the relay waits (exponential backoff with jitter)
 * and tries the same batch again, counting nothing against the events. When the broker refuses
 * the batch, the events the publisher reports stored anyway (Kafka: the partitions that took
 * their records) are recorded delivered and never sent again; the relay sends the others again
 * in halves, splitting each refused half, to find the culprit: events that pass are delivered, the refused one is retried later
 * (holding back the rest of its key) and, once it was refused `maxAttempts` times or refused as
 * not retryable, moved to the dead-letter store. Other keys keep flowing throughout.
 *
 * Tracing: with `@opentelemetry/api` installed, every publish call (a batch, or a part of one
 * while a refused batch is taken apart) runs in a PRODUCER span `send <topic>` linked to each event's
 * `traceparent`; a refused or failed call is recorded on its span with status ERROR.
 */
export class Relay {
  readonly #source: RelaySource;
  readonly #publisher: Publisher;
  readonly #options: RelaySettings;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  readonly stats: RelayStats = { delivered: 0, batches: 0, retried: 0, deadLettered: 0, refused: 0, brokerOutages: 0, leaseLost: 0 };
  readonly #observer: RelayObserver;
  #running: Promise<void> | undefined;
  #tracing: Tracing | undefined;
  readonly #fence: PublishFence;

  constructor(options: RelayOptions) {
    this.#source = options.source;
    this.#publisher = options.publisher;
    this.#log = options.logger ?? silentLogger;
    this.#observer = options.observer ?? {};
    this.#fence = new PublishFence(options.source, options.publisher);
    this.#options = { ...relayDefaults, ...stripUndefined(options) } as RelaySettings;
    for (const key of ['batchSize', 'pollIntervalMs', 'maxAttempts', 'retryBaseMs', 'retryMaxMs'] as const) {
      const v = this.#options[key];
      if (!Number.isInteger(v) || v < 1) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `relay option '${key}' must be a positive integer, got ${String(v)}`, {
          details: { option: key },
        });
      }
    }
  }

  /**
   * Runs until {@link stop} is called. Resolves after the batch in flight was delivered and
   * recorded; rejects only on an error that retrying cannot fix (missing tables, bad config).
   */
  run(): Promise<void> {
    this.#running ??= this.#loop();
    return this.#running;
  }

  /** Asks the relay to finish its batch in flight and return; resolves when it has. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#running?.catch(() => undefined);
  }

  async #loop(): Promise<void> {
    const signal = this.#stop.signal;
    this.#tracing = await loadTracing();
    let outage = 0;
    while (!signal.aborted) {
      try {
        const batch = await this.#source.next(this.#options.batchSize);
        this.#observer.sourceAnswered?.();
        if (batch.length === 0) {
          await this.#source.waitForWork(this.#options.pollIntervalMs, signal);
          continue;
        }
        await this.#pipeline(batch);
        outage = 0;
      } catch (err) {
        if (isHeraldError(err, ErrorCodes.LEASE_LOST)) {
          this.#leaseLost(err);
          continue;
        }
        if (!isHeraldError(err) || !err.retryable) throw err;
        outage++;
        if (err.code === ErrorCodes.BROKER_UNAVAILABLE) this.stats.brokerOutages++;
        this.#observer.paused?.(err);
        const delay = backoffMs(outage, { baseMs: this.#options.retryBaseMs, maxMs: this.#options.retryMaxMs });
        this.#log.warn('relay paused, will retry', { error: err.message, attempt: outage, retryInMs: delay });
        await waitUntilWoken(delay, signal, () => undefined);
      }
    }
  }

  /**
   * Delivers `first`, then, as long as the source reads ahead and each batch went through whole,
   * the batches read ahead. Each read ahead runs alongside the publish of the batch before it.
   * With a source that reads ahead, a batch goes out in chunks of half the batch size, and the
   * recording of a chunk (the source's DELETE) runs alongside the publish of the next one, so
   * neither the SELECT nor the DELETE costs time of its own on a backlog. The publishes never
   * overlap, a chunk is sent only after the one before it was published whole, and the events
   * sent but not yet recorded are never more than one batch: a relay killed at any moment sends
   * again at most `batchSize` events, as without pipelining.
   */
  async #pipeline(first: RelayRecord[]): Promise<void> {
    let batch = first;
    let recording: Recording | undefined;
    try {
      while (batch.length > 0) {
        const ahead = this.#readAhead(batch, recording);
        let whole = true;
        try {
          for (const chunk of this.#chunks(batch)) {
            recording = await this.#deliverOverlapping(chunk, recording);
            if (recording === undefined) {
              whole = false;
              break;
            }
          }
        } catch (err) {
          // Dropped unsent: its events are still in the source and are read again, after the
          // failed batch's, once the relay retries. (Its own error, if any, would be the same
          // outage that next() reports again then.)
          await ahead;
          throw err;
        }
        const read = await ahead;
        // A batch refused in part changed what the source hands out next (a key waits for a retry,
        // an event went to the dead letters): what was read before that is stale, so read again.
        if (read === undefined || !whole || this.#stop.signal.aborted) return;
        if ('error' in read) throw read.error;
        this.#observer.sourceAnswered?.();
        batch = read.records;
      }
    } finally {
      // The last chunk's recording is awaited before the relay reads or stops: next() must not
      // hand out what is being deleted, and stop() resolves only once everything sent is recorded.
      // Its failure, if any, is the relay's error (the chunk is then sent again after the retry).
      await recording?.done;
    }
  }

  /**
   * Starts reading the batch after `inFlight`, when the source can and `inFlight` was full (a
   * short batch means the source had no more: reading again would mostly find nothing). The
   * chunk still being recorded is excluded too: its rows may not be deleted yet. The promise
   * never rejects, so a read that fails while the publish is awaited is not an unhandled
   * rejection; the caller decides whether its outcome matters.
   */
  #readAhead(
    inFlight: RelayRecord[],
    recording: Recording | undefined,
  ): Promise<{ records: RelayRecord[] } | { error: unknown }> | undefined {
    const source = this.#source;
    if (source.readAhead === undefined || inFlight.length < this.#options.batchSize) return undefined;
    const excluded = recording === undefined ? inFlight : [...recording.records, ...inFlight];
    return source.readAhead(this.#options.batchSize, excluded).then(
      (records) => ({ records }),
      (error: unknown) => ({ error }),
    );
  }

  /**
   * The publish calls of a batch: halves with a source that reads ahead (so recording one
   * overlaps sending the next), else the batch whole; whole too when each call costs the
   * publisher a fixed price ({@link Publisher.wholeBatches}: Kafka transactions, where halves
   * would double the commits for a DELETE that costs less than one).
   */
  #chunks(batch: RelayRecord[]): RelayRecord[][] {
    if (this.#source.readAhead === undefined || this.#publisher.wholeBatches === true) return [batch];
    const size = Math.ceil(this.#options.batchSize / 2);
    const chunks: RelayRecord[][] = [];
    for (let i = 0; i < batch.length; i += size) chunks.push(batch.slice(i, i + size));
    return chunks;
  }

  /**
   * Publishes `chunk` while `previous` (the chunk sent before it) is still being recorded, as
   * long as the two together are at most a batch; otherwise waits for that recording first.
   * Returns the recording of `chunk` once it was published whole, or undefined when the broker
   * refused it (in part) and it was taken apart in halves and recorded. Rejects, once the
   * publish settled, when recording `previous` failed: `chunk` then stays unrecorded and is sent
   * again after the retry (a duplicate, never a loss).
   */
  async #deliverOverlapping(chunk: RelayRecord[], previous: Recording | undefined): Promise<Recording | undefined> {
    if (previous !== undefined && previous.records.length + chunk.length > this.#options.batchSize) {
      await previous.done;
      previous = undefined;
    }
    // Two clock reads per publish, and only when someone listens: the hot path stays as it was.
    const published = this.#observer.batchPublished;
    const started = published ? performance.now() : 0;
    let failure: { err: unknown } | undefined;
    try {
      await this.#publish(chunk);
      published?.(chunk.length, (performance.now() - started) / 1000, true);
    } catch (err) {
      published?.(chunk.length, (performance.now() - started) / 1000, false);
      failure = { err };
    }
    await previous?.done;
    if (failure === undefined) return this.#record(chunk);
    const { err } = failure;
    // A fenced chunk was not committed anywhere: there is nothing stored to record.
    if (isHeraldError(err, ErrorCodes.LEASE_LOST)) throw err;
    // What the broker stored is delivered: sending it again would only make duplicates.
    const rest = await this.#recordStored(chunk, err);
    if (isHeraldError(err) && err.code === ErrorCodes.BROKER_UNAVAILABLE) throw err;
    this.#log.warn('batch refused; delivering its other events in halves to isolate the refused one', {
      events: chunk.length,
      stored: chunk.length - rest.length,
      error: messageOf(err),
    });
    await this.#isolate(rest, err);
    return undefined;
  }

  /** Starts recording a published chunk delivered; the returned recording is awaited before anything depends on it. */
  #record(records: RelayRecord[]): Recording {
    const done = this.#source.delivered(records).then(() => {
      this.stats.delivered += records.length;
      this.stats.batches++;
    });
    // Awaited later (by the next chunk or at the end of the pipeline); until then a failure must
    // not count as an unhandled rejection.
    done.catch(() => undefined);
    return { records, done };
  }

  /**
   * Records as delivered the events of a rejected batch that the publisher reports the broker
   * stored (see `reportDelivered`), and returns the others, in batch order. The publisher reports,
   * per key, only a prefix of the key's events, so what is returned still starts, per key, with
   * the key's oldest undelivered event.
   */
  async #recordStored(batch: RelayRecord[], err: unknown): Promise<RelayRecord[]> {
    const stored = deliveredOf(err, batch.length);
    if (stored.length === 0) return batch;
    const storedSet = new Set(stored);
    await this.#source.delivered(stored.map((i) => batch[i]!));
    this.stats.delivered += stored.length;
    return batch.filter((_, i) => !storedSet.has(i));
  }

  /**
   * Isolates the refused events of a batch while keeping per-key order: the rest is sent again in
   * halves, and a half the broker refuses is split again, down to the single refused event, which
   * is retried later or dead-lettered; later events of its key are held back. One poison event in
   * n costs about 2·log2(n) publish calls instead of n (one by one, a large batch could outlast
   * the relay's lease and be dropped unfinished, again and again: the poison then stalled every key).
   */
  async #deliverIsolating(batch: RelayRecord[], heldKeys: Set<string>): Promise<void> {
    const records = batch.filter((r) => !heldKeys.has(keyOf(r)));
    if (records.length === 0) return;
    try {
      // A long isolation must not outlast the lease the batch was read under.
      await this.#source.renewLease?.();
      await this.#publish(records);
    } catch (err) {
      if (isHeraldError(err) && (err.code === ErrorCodes.BROKER_UNAVAILABLE || err.code === ErrorCodes.LEASE_LOST)) throw err;
      await this.#isolate(await this.#recordStored(records, err), err, heldKeys);
      return;
    }
    await this.#source.delivered(records);
    this.stats.delivered += records.length;
  }

  /**
   * The refused rest of a publish call: a single event is the culprit (retried later or
   * dead-lettered, its key held back); more are sent again in halves. Never re-sends the very
   * set that was just refused.
   */
  async #isolate(refused: RelayRecord[], err: unknown, heldKeys = new Set<string>()): Promise<void> {
    if (refused.length === 0) return;
    if (refused.length === 1) {
      heldKeys.add(keyOf(refused[0]!));
      await this.#failed(refused[0]!, err);
      return;
    }
    const half = Math.ceil(refused.length / 2);
    await this.#deliverIsolating(refused.slice(0, half), heldKeys);
    await this.#deliverIsolating(refused.slice(half), heldKeys);
  }

  /** One publish call, in its span when tracing is on; only while the records' lease is held. */
  async #publish(records: readonly RelayRecord[]): Promise<void> {
    await this.#fence.beforePublish(records);
    const outgoing = records.map((r) => r.outgoing);
    if (this.#tracing === undefined) return this.#publisher.publish(outgoing);
    const messages = outgoing.map((o) => ({ id: o.event.id, topic: o.topic, traceparent: o.event.traceparent }));
    return withSendSpan(this.#tracing, { system: this.#publisher.name, messages }, () => this.#publisher.publish(outgoing));
  }

  /**
   * Fencing: the lease of the batch in flight moved to another relay (this one stalled past it).
   * The source recorded at most the events of buckets it still holds (counted as delivered); the
   * new owner delivers the rest. The source rebalances on the next read, so there is no backoff:
   * this relay carries on with what it holds now.
   */
  #leaseLost(err: HeraldError): void {
    this.stats.leaseLost++;
    const recorded = recordedDespiteLeaseLost(err);
    this.stats.delivered += recorded;
    this.#log.warn('lease lost; the rest of the batch dropped unrecorded, another relay delivers it', { error: err.message, recorded });
  }

  async #failed(record: RelayRecord, err: unknown): Promise<void> {
    const attempts = record.attempts + 1;
    const message = messageOf(err);
    const permanent = !isHeraldError(err) || !err.retryable;
    this.stats.refused++;
    const fields = { eventId: record.outgoing.event.id, topic: record.outgoing.topic, attempts, error: message };
    if (permanent || attempts >= this.#options.maxAttempts) {
      await this.#source.deadLetter(record, message);
      this.stats.deadLettered++;
      this.#log.error('event moved to the dead-letter table', fields);
      return;
    }
    const delay = backoffMs(attempts, { baseMs: this.#options.retryBaseMs, maxMs: this.#options.retryMaxMs });
    await this.#source.retryLater(record, message, delay);
    this.stats.retried++;
    this.#log.warn('event refused, will retry', { ...fields, retryInMs: delay });
  }
}

/** The ordering key of a record: its topic and partition key. */
function keyOf(r: RelayRecord): string {
  return `${r.outgoing.topic}\u0000${r.outgoing.event.partitionkey}`;
}

/** A published chunk being recorded delivered by the source. */
interface Recording {
  readonly records: readonly RelayRecord[];
  readonly done: Promise<void>;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
