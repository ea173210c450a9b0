import type { OutgoingEvent, Publisher } from '../brokers/publisher.js';
import type { Contract } from '../contracts/contract.js';
import type { ContractRegistry } from '../contracts/registry.js';
import { HeraldError, ErrorCodes, isHeraldError, messageOf, type ErrorCode } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { withSendSpan } from '../observe/messaging-spans.js';
import { loadTracing } from '../observe/tracing.js';
import { backoffMs } from '../relay/backoff.js';
import { waitUntilWoken } from '../relay/wake.js';

/** Options of {@link publishDirect}. Defaults are in {@link directDefaults}. */
export interface DirectPublishOptions {
  /** The contracts events are validated against, and that give each event its topic. */
  readonly contracts: ContractRegistry;
  /** Publish attempts in all, the first one included. Default 5. */
  readonly attempts?: number;
  /** Delay before the second attempt, in ms; it doubles per attempt, with jitter. Default 200. */
  readonly retryBaseMs?: number;
  /** Longest delay between two attempts, in ms. Default 5000. */
  readonly retryMaxMs?: number;
  /** Stops retrying: the call rejects at once with the divergence error. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

/** The defaults of {@link DirectPublishOptions}, in one table. */
export const directDefaults = { attempts: 5, retryBaseMs: 200, retryMaxMs: 5_000 } as const;

/** Most event ids a divergence message lists; all of them are in `details.divergentEventIds`. */
const LISTED_IDS = 10;

/**
 * The **direct** (dual-write) pattern, done as well as it can be: the caller commits its database
 * transaction first, then calls this to publish the events that the change owes the world.
 *
 * This pattern is not atomic, and Herald cannot make it so:
 * - it **can lose events**: if the process crashes (or is stopped) between the database commit
 *   and the broker's acknowledgement, the change is committed and its events never published;
 * - called **before** the commit, it publishes events of transactions that may still roll back.
 *   Call it only after the commit has returned.
 *
 * `herald reconcile` measures the resulting divergence (committed in the database, missing on the
 * broker). Use the transactional outbox where losing an event is not acceptable.
 *
 * What it guarantees: every event is validated against its contract (found by `dataschema`, or
 * by `type` when `dataschema` is absent) before anything is published, and must carry the
 * partition key its contract derives from `data`; the events are published as one batch, in the
 * given order, to each contract's topic, with the same `OutgoingEvent` shape the relay uses.
 * Retryable failures are retried up to `attempts` times with exponential backoff and jitter
 * (the same event ids each time, so consumers deduplicate a batch that partly arrived).
 *
 * Resolves only after the broker acknowledged every event. Otherwise rejects, never swallowing,
 * with a `HeraldError` whose message says that the events are now **divergent** and names their
 * ids (all of them in `details.divergentEventIds`); its `code` and `retryable` are those of the
 * last failure (`EVENT_INVALID` or `CONTRACT_NOT_FOUND` when validation failed, and then nothing
 * was published). When the broker refused a batch, some of its events may have arrived anyway.
 *
 * With `@opentelemetry/api` installed, each attempt is a PRODUCER span `send <topic>`, the child
 * of the caller's active span; a failed attempt is recorded on its span with status ERROR.
 */
export async function publishDirect(publisher: Publisher, events: readonly HeraldEvent[], options: DirectPublishOptions): Promise<void> {
  const settings = directSettings(options);
  if (events.length === 0) return;
  const ids = events.map((e) => e.id);
  let batch: OutgoingEvent[];
  try {
    batch = events.map((e) => outgoing(options.contracts, e));
  } catch (err) {
    throw divergence(err, ids, 'nothing was published');
  }
  const log = options.logger ?? silentLogger;
  const signal = options.signal ?? new AbortController().signal;
  const tracing = await loadTracing();
  const messages = batch.map((o) => ({ id: o.event.id, topic: o.topic, traceparent: o.event.traceparent }));
  for (let attempt = 1; ; attempt++) {
    try {
      // Each attempt is a span, the child of the caller's (the request that owes the events).
      await withSendSpan(tracing, { system: publisher.name, messages }, () => publisher.publish(batch), { inActive: true });
      return;
    } catch (err) {
      const retryable = isHeraldError(err) && err.retryable;
      if (!retryable || attempt >= settings.attempts || signal.aborted) {
        throw divergence(err, ids, `${attempt} attempt(s) failed`);
      }
      const delay = backoffMs(attempt, { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs });
      // Ids and counts only: payloads never go to logs.
      log.warn('direct publish failed, will retry', { events: ids.length, attempt, retryInMs: delay, error: messageOf(err) });
      await waitUntilWoken(delay, signal, () => undefined);
      if (signal.aborted) throw divergence(err, ids, `${attempt} attempt(s) failed, then retrying was aborted`);
    }
  }
}

/** Validates the options once; errors name the option. */
function directSettings(options: DirectPublishOptions): Required<Omit<DirectPublishOptions, 'contracts' | 'signal' | 'logger'>> {
  const settings = {
    attempts: options.attempts ?? directDefaults.attempts,
    retryBaseMs: options.retryBaseMs ?? directDefaults.retryBaseMs,
    retryMaxMs: options.retryMaxMs ?? directDefaults.retryMaxMs,
  };
  for (const key of ['attempts', 'retryBaseMs', 'retryMaxMs'] as const) {
    const v = settings[key];
    if (!Number.isInteger(v) || v < 1) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option '${key}' of publishDirect must be a positive integer, got ${String(v)}`, {
        details: { option: key },
      });
    }
  }
  if (typeof options.contracts?.get !== 'function') {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, "option 'contracts' of publishDirect must be a ContractRegistry", {
      details: { option: 'contracts' },
    });
  }
  return settings;
}

/**
 * Validates one event against its contract and builds what the publisher sends, exactly as the
 * relay would for an outbox row: the contract's topic, the attributes, `data` as JSON text.
 */
function outgoing(contracts: ContractRegistry, e: HeraldEvent): OutgoingEvent {
  const contract = contractOf(contracts, e);
  contracts.validate(contract, e.data);
  const key = (e.data as Record<string, unknown> | null)?.[contract.partitionKey];
  // A partition key that disagrees with the data would put the event on another key's order.
  if (String(key) !== e.partitionkey) {
    throw new HeraldError(
      ErrorCodes.EVENT_INVALID,
      `event ${e.id} has partitionkey that differs from property '${contract.partitionKey}' of its data, which contract '${contract.id}' version ${contract.version} makes the key`,
      { details: { contract: contract.id, version: contract.version, eventId: e.id } },
    );
  }
  const { data, ...attributes } = e;
  return { event: attributes, topic: contract.topic, data: JSON.stringify(data) };
}

const DATASCHEMA = /^urn:herald:contract:(.+):([^:]+)$/;

/** The contract of an event: by its `dataschema` URN, else the highest version of its `type`. */
function contractOf(contracts: ContractRegistry, e: HeraldEvent): Contract {
  if (e.dataschema !== undefined) {
    const m = DATASCHEMA.exec(e.dataschema);
    if (!m) {
      throw new HeraldError(
        ErrorCodes.CONTRACT_NOT_FOUND,
        `event ${e.id} has dataschema '${e.dataschema}', which is not a herald contract (urn:herald:contract:<id>:<version>)`,
        { details: { eventId: e.id } },
      );
    }
    const contract = contracts.get(m[1]!, m[2]!);
    if (contract.eventType !== e.type) {
      throw new HeraldError(
        ErrorCodes.EVENT_INVALID,
        `event ${e.id} has type '${e.type}', but contract '${contract.id}' version ${contract.version} is for type '${contract.eventType}'`,
        { details: { contract: contract.id, version: contract.version, eventId: e.id } },
      );
    }
    return contract;
  }
  const found = contracts.list().filter((c) => c.eventType === e.type);
  if (found.length === 0) {
    throw new HeraldError(
      ErrorCodes.CONTRACT_NOT_FOUND,
      `no contract for event type '${e.type}' (event ${e.id}) and it has no dataschema`,
      {
        details: { eventId: e.id, type: e.type },
      },
    );
  }
  return found.at(-1)!;
}

/** The rejection of {@link publishDirect}: what failed, and which events are now divergent. */
function divergence(err: unknown, ids: readonly string[], what: string): HeraldError {
  const listed = ids.slice(0, LISTED_IDS).join(', ') + (ids.length > LISTED_IDS ? ` and ${ids.length - LISTED_IDS} more` : '');
  const code: ErrorCode = isHeraldError(err) ? err.code : ErrorCodes.PUBLISH_FAILED;
  return new HeraldError(
    code,
    `cannot publish ${ids.length} event(s) directly (${what}): ${messageOf(err)}; they are now divergent, committed in the database but not on the broker: ${listed}`,
    {
      cause: err,
      retryable: isHeraldError(err) && err.retryable,
      details: { ...(isHeraldError(err) ? err.details : {}), divergentEventIds: [...ids] },
    },
  );
}
