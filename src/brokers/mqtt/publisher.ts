import { randomBytes } from 'node:crypto';
import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { maskCredentials } from '../mask.js';
import { bounded } from '../bounded.js';
import { ceAttributes, reportDelivered, storedPrefixes, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Options of {@link MqttPublisher}. Defaults are in {@link mqttDefaults}. */
export interface MqttPublisherOptions {
  /** `mqtt://[user:password@]host[:port]` (port 1883 by default). The password never appears in messages. */
  readonly url: string;
  /**
   * 1 (`publish` resolves after each PUBACK) or 2 (after each PUBCOMP). 0 is refused: the
   * broker acknowledges nothing at QoS 0, so Herald could not know that an event arrived. Default 1.
   */
  readonly qos?: 1 | 2;
  /** The MQTT client identifier; must be unique per connection on the broker. Default `herald-<random>`. */
  readonly clientId?: string;
  /** Longest wait for the connection and its CONNACK, in ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait for the acknowledgements of one batch, in ms. Past it the connection is dropped
   * and the batch reported as `BROKER_UNAVAILABLE`. Keep it below half the relay lease. Default 10000.
   */
  readonly ackTimeoutMs?: number;
}

/** The defaults of {@link MqttPublisherOptions}, in one table (`clientId`: `herald-<8 random hex>`). */
export const mqttDefaults = {
  qos: 1,
  connectTimeoutMs: 5_000,
  ackTimeoutMs: 10_000,
} as const;

type MqttModule = typeof import('mqtt');
type MqttClient = import('mqtt').MqttClient;

interface Settings {
  qos: 1 | 2;
  clientId: string;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
}

/** One connection: the client, and a way to make a wait fail when the connection ends. */
interface Connection {
  readonly client: MqttClient;
  /** Settles like `work`, or rejects with the reason the connection ended, if it ends first. */
  watchLoss<T>(work: Promise<T>): Promise<T>;
}

/** Where and how to connect, parsed from {@link MqttPublisherOptions.url}. */
export interface MqttAddress {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  /** `mqtt://host:port`, without credentials: the only form used in messages. */
  readonly display: string;
}

/**
 * Publishes to an MQTT 5 broker with `mqtt` (MQTT.js, an optional peer dependency).
 *
 * - Topics: the MQTT topic is the Herald topic with every `.` replaced by `/` (`orders.v1` →
 *   `orders/v1`), so subscribers can use level wildcards. A Herald topic that contains `/`, `+`,
 *   `#` or U+0000, or is empty, is refused; the mapping is therefore reversible
 *   ({@link fromMqttTopic}).
 * - CloudEvents MQTT binding, binary mode (MQTT 5): the payload is `data` byte for byte, the
 *   PUBLISH Content Type is `application/json` and every other attribute is a user property
 *   named after it (`specversion`, `id`, `source`, `type`, ...).
 * - Acknowledgement: QoS 1 by default; `publish` resolves after the broker acknowledged every
 *   event (PUBACK; PUBCOMP at QoS 2). That acknowledgement means the broker took the message, not
 *   that it is on disk or that anyone received it: an MQTT broker drops messages for topics nobody
 *   subscribes to, and keeps queued ones across a restart only as far as its persistence does.
 * - Ordering: one connection; each partition key's events are sent one at a time in batch order,
 *   the next after the previous PUBACK, and a key stops at its first refusal. Different keys are
 *   in flight together, at most the broker's Receive Maximum (§4.9). MQTT 5 §4.6 makes the broker
 *   forward one client's messages of a topic in the order received.
 * - Deduplication: MQTT brokers have none. The `id` user property carries the event id for
 *   consumers; a retried batch may deliver an event twice.
 * - Errors: no connection, a lost connection or no acknowledgement within `ackTimeoutMs` is
 *   `BROKER_UNAVAILABLE` (retryable). A PUBACK reason code of 0x80 or more (0x87 not authorized,
 *   0x90 topic name invalid, 0x97 quota exceeded, 0x99 payload format invalid...) is
 *   `PUBLISH_REJECTED`, except 0x91 (packet identifier in use), which is `PUBLISH_FAILED`
 *   (retryable). So is an acknowledgement with a code MQTT 5 does not allow there (Mosquitto 2.0
 *   answers a message over `message_size_limit` with PUBACK 0x95), and a DISCONNECT that blames
 *   the message (0x95 packet too large, 0x90, 0x99). PUBACK 0x10 (no matching subscribers) is
 *   success: the broker took the message, and MQTT lets it go when nobody listens. A refusal
 *   reports the events acknowledged before it, per key (`reportDelivered`), so that the relay
 *   does not send them again; a lost connection reports none.
 * - Connections: clean start and no session (the relay, not a session, retries what was not
 *   acknowledged) and no automatic reconnection: a lost connection fails the batch in flight,
 *   and the next `publish` opens a new one, so nothing is ever queued offline. `close()` is idempotent.
 */
export class MqttPublisher implements Publisher {
  readonly name = 'mqtt';
  readonly #options: Settings;
  readonly #address: MqttAddress;
  #mqtt: MqttModule | undefined;
  #connection: Connection | undefined;
  #opening: Promise<Connection> | undefined;
  #closed = false;

  constructor(options: MqttPublisherOptions) {
    this.#address = parseMqttUrl(options.url);
    const merged = { ...mqttDefaults, ...options };
    if ((merged.qos as number) !== 1 && (merged.qos as number) !== 2) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `mqtt option 'qos' must be 1 or 2, got ${String(merged.qos)}; QoS 0 has no acknowledgement, so delivery could not be confirmed`,
        { details: { option: 'qos' } },
      );
    }
    for (const option of ['connectTimeoutMs', 'ackTimeoutMs'] as const) {
      const v = merged[option];
      if (!(Number.isInteger(v) && v > 0)) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `mqtt option '${option}' must be a positive integer, got ${String(v)}`, {
          details: { option },
        });
      }
    }
    const clientId = options.clientId ?? `herald-${randomBytes(4).toString('hex')}`;
    if (typeof clientId !== 'string' || clientId.length === 0) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `mqtt option 'clientId' must be a non-empty string`, {
        details: { option: 'clientId' },
      });
    }
    this.#options = { qos: merged.qos, clientId, connectTimeoutMs: merged.connectTimeoutMs, ackTimeoutMs: merged.ackTimeoutMs };
  }

  /**
   * Checks every topic name (`CONFIG_INVALID` naming the first bad one) and that the broker
   * accepts a connection. MQTT topics need no creation.
   */
  async prepare(topics: readonly string[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'mqtt publisher is closed');
    for (const topic of topics) toMqttTopic(topic);
    await this.#connect(() => `cannot connect to mqtt broker`);
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'mqtt publisher is closed');
    if (batch.length === 0) return;
    // Built only when an error needs it: this is the relay's hot path.
    const what = (): string =>
      `cannot publish ${batch.length} event(s) to mqtt (${[...new Set(batch.map((e) => `'${e.topic}'`))].join(', ')})`;
    let topics: string[];
    try {
      topics = batch.map((e) => toMqttTopic(e.topic));
    } catch (cause) {
      // The same event would be refused again: not retryable.
      throw new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what()}: ${messageOf(cause)}`, { cause });
    }
    const connection = await this.#connect(what);
    const { client } = connection;
    const limit = client.serverProperties?.receiveMaximum ?? 65_535;
    const sent = inWindow(
      batch.map((e) => e.event.partitionkey),
      limit,
      async (i) => {
        // After a lost connection mqtt.js would queue the rest offline; the batch has failed anyway.
        if (!client.connected) throw new Error('connection closed');
        await client.publishAsync(topics[i]!, Buffer.from(batch[i]!.data, 'utf8'), {
          qos: this.#options.qos,
          properties: { contentType: 'application/json', userProperties: userProperties(batch[i]!) },
        });
      },
    );
    let outcomes: PromiseSettledResult<void>[];
    try {
      outcomes = await withTimeout(connection.watchLoss(sent), this.#options.ackTimeoutMs);
    } catch (cause) {
      this.#discard(connection);
      throw this.#lost(cause, what());
    }
    const failures = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    // Each lane stops at its key's first failure, so what got its acknowledgement is a prefix per key.
    if (failures.length > 0)
      throw reportDelivered(
        this.#refused(failures, what()),
        storedPrefixes(batch, (i) => outcomes[i]!.status === 'fulfilled'),
      );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    // A DISCONNECT lets the broker drop the session cleanly; a dead connection is just destroyed.
    if (connection.client.connected) await withTimeout(connection.client.endAsync(), 1_000).catch(() => undefined);
    this.#discard(connection);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #module(): Promise<MqttModule> {
    if (this.#mqtt) return this.#mqtt;
    this.#mqtt = await importPeer('mqtt', ['mqtt'], () => import('mqtt'));
    return this.#mqtt;
  }

  #connect(what: () => string): Promise<Connection> {
    if (this.#connection?.client.connected) return Promise.resolve(this.#connection);
    // Callers that arrive while a connection is being opened wait for that one.
    this.#opening ??= this.#open(what).finally(() => (this.#opening = undefined));
    return this.#opening;
  }

  async #open(what: () => string): Promise<Connection> {
    if (this.#connection) this.#discard(this.#connection);
    const mqtt = await this.#module();
    const client = mqtt.connect({
      protocol: 'mqtt',
      host: this.#address.host,
      port: this.#address.port,
      username: this.#address.username,
      password: this.#address.password,
      clientId: this.#options.clientId,
      // MQTT 5 carries the CloudEvents attributes as user properties.
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.#options.connectTimeoutMs,
    });
    let failure: unknown;
    let disconnect: number | undefined;
    // Publishes wait on the connection's loss through their own watcher, removed when they end:
    // racing each publish against one long-lived promise would keep every batch alive until the
    // connection closes.
    const watchers = new Set<(err: unknown) => void>();
    let lostWith: unknown;
    const fail = (err: unknown): void => {
      if (lostWith !== undefined) return;
      lostWith = err;
      for (const w of watchers) w(err);
    };
    client.on('error', (err) => {
      failure ??= err;
      // MQTT.js cannot parse an acknowledgement whose reason code MQTT 5 does not define for it
      // (Mosquitto 2.0 answers a message over message_size_limit with PUBACK 0x95). The
      // publish would wait forever, and only a refusal has such a code.
      if (/^Invalid (puback|pubrec|pubcomp) reason code/.test(err.message)) fail(new UndefinedAckCode(err));
    });
    client.on('disconnect', (packet) => (disconnect = packet.reasonCode));
    client.once('close', () =>
      fail(disconnect === undefined ? (failure ?? new Error('connection closed')) : new ServerDisconnect(disconnect)),
    );
    const watchLoss = <T>(work: Promise<T>): Promise<T> => {
      let watcher: ((err: unknown) => void) | undefined;
      const lost = new Promise<never>((_, reject) => {
        if (lostWith !== undefined) reject(lostWith);
        else watchers.add((watcher = reject));
      });
      return Promise.race([work, lost]).finally(() => watcher && watchers.delete(watcher));
    };
    const connection: Connection = { client, watchLoss };
    this.#connection = connection;
    try {
      await withTimeout(watchLoss(new Promise((resolve) => client.once('connect', resolve))), this.#options.connectTimeoutMs);
    } catch (cause) {
      this.#discard(connection);
      throw this.#unavailable(failure ?? cause, what());
    }
    if (this.#closed) {
      // close() ran while this connection was being opened; it must not outlive the publisher.
      this.#discard(connection);
      throw new HeraldError(ErrorCodes.CLOSED, 'mqtt publisher is closed');
    }
    return connection;
  }

  #discard(connection: Connection): void {
    if (this.#connection === connection) this.#connection = undefined;
    // Forced: fails what is still unacknowledged instead of waiting for it.
    connection.client.end(true);
  }

  /** The connection ended or timed out before every acknowledgement arrived. */
  #lost(cause: unknown, what: string): HeraldError {
    if (cause instanceof ServerDisconnect && MESSAGE_REFUSALS.has(cause.reasonCode)) {
      return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: the broker disconnected: ${cause.message}`, { cause });
    }
    if (cause instanceof UndefinedAckCode) {
      return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by the broker: ${cause.message}`, { cause });
    }
    return this.#unavailable(cause, what);
  }

  #unavailable(cause: unknown, what: string): HeraldError {
    // A CONNACK refusal (bad credentials, not authorized) is reported as unavailable too, so that a
    // relay pauses and retries instead of dead-lettering every event; its reason is in the message.
    const code = reasonCodeOf(cause);
    const hint =
      code !== undefined && code >= 0x80
        ? 'check the url, its credentials and clientId'
        : 'check the address and that the broker is running';
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: mqtt broker at ${this.#address.display} unavailable: ${messageOf(cause)}; ${hint}`,
      {
        cause,
        retryable: true,
      },
    );
  }

  /** Failed acknowledgements: PUBACK reason codes, or the connection closing under them. */
  #refused(failures: unknown[], what: string): HeraldError {
    const coded = failures.filter((e) => (reasonCodeOf(e) ?? 0) >= 0x80);
    if (coded.length < failures.length)
      return this.#unavailable(
        failures.find((e) => !coded.includes(e)),
        what,
      );
    const permanent = coded.find((e) => reasonCodeOf(e) !== PACKET_IDENTIFIER_IN_USE);
    const first = permanent ?? coded[0];
    const reason = `${messageOf(first)} (reason code 0x${reasonCodeOf(first)!.toString(16)})`;
    if (permanent) return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by the broker: ${reason}`, { cause: first });
    return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause: first, retryable: true });
  }
}

/** PUBACK 0x91: the broker still holds the packet identifier; a later attempt gets a fresh one. */
const PACKET_IDENTIFIER_IN_USE = 0x91;

/** DISCONNECT reason codes that blame the message, not the connection: packet too large, topic name invalid, payload format invalid. */
const MESSAGE_REFUSALS = new Set([0x95, 0x90, 0x99]);

/** A DISCONNECT the broker sent, with its reason code. */
class ServerDisconnect extends Error {
  constructor(readonly reasonCode: number) {
    super(`DISCONNECT reason code 0x${reasonCode.toString(16)}`);
  }
}

/** An acknowledgement with a reason code MQTT 5 does not allow there; always a refusal. */
class UndefinedAckCode extends Error {
  constructor(cause: Error) {
    super(`${cause.message} (an acknowledgement refusing the message, with a code MQTT 5 does not define for it)`, { cause });
  }
}

function reasonCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown; reasonCode?: unknown } | null)?.code ?? (err as { reasonCode?: unknown } | null)?.reasonCode;
  return typeof code === 'number' ? code : undefined;
}

/** The CloudEvents attributes as MQTT 5 user properties, named as in CloudEvents. */
function userProperties(e: OutgoingEvent): Record<string, string> {
  const props: Record<string, string> = {};
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined) props[name] = value;
  }
  return props;
}

/**
 * Runs `send(i)` for every event: one lane per key (in index order, stopping at the key's first
 * failure), at most `limit` lanes at a time; reports how each one settled (unsent events get their
 * key's failure).
 */
async function inWindow(keys: readonly string[], limit: number, send: (i: number) => Promise<void>): Promise<PromiseSettledResult<void>[]> {
  const outcomes: PromiseSettledResult<void>[] = new Array(keys.length);
  // One lane per partition key, each in batch order and stopping at its first failure: with
  // several events of one key in flight, a retryable refusal of event i could let i+1 through,
  // and the relay's retry would then deliver i after i+1.
  const byKey = new Map<string, number[]>();
  keys.forEach((k, i) => (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(i));
  const lanes = [...byKey.values()];
  const worker = async (): Promise<void> => {
    for (let lane = lanes.shift(); lane; lane = lanes.shift()) {
      let failed: unknown;
      for (const i of lane) {
        if (failed !== undefined) {
          outcomes[i] = { status: 'rejected', reason: failed };
          continue;
        }
        try {
          await send(i);
          outcomes[i] = { status: 'fulfilled', value: undefined };
        } catch (reason) {
          failed = reason;
          outcomes[i] = { status: 'rejected', reason };
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, lanes.length)) }, worker));
  return outcomes;
}

/** {@link bounded}, rejecting with a plain error that the caller classifies. */
function withTimeout<T>(operation: Promise<T>, ms: number): Promise<T> {
  return bounded(operation, ms, () => new Error(`no acknowledgement within ${ms} ms`));
}

/**
 * The MQTT topic of a Herald topic: every `.` becomes `/`. Throws `CONFIG_INVALID` for an empty
 * topic or one containing `/` (the mapping would not be reversible), the wildcards `+` and `#`
 * (not allowed in a PUBLISH), or U+0000 (not allowed in MQTT strings).
 */
export function toMqttTopic(topic: string): string {
  const found = ['/', '+', '#', '\u0000'].find((c) => topic.includes(c));
  const bad =
    topic.length === 0
      ? 'is empty'
      : found !== undefined
        ? `contains ${found === '\u0000' ? 'NUL' : `'${found}'`}`
        : Buffer.byteLength(topic, 'utf8') > 65_535
          ? 'is longer than 65535 bytes'
          : undefined;
  if (bad !== undefined) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `topic '${topic.replaceAll('\u0000', '\\0')}' ${bad}; the mqtt topic is the herald topic with '.' as '/', so it may not contain '/', '+', '#' or NUL`,
      { details: { topic } },
    );
  }
  return topic.replaceAll('.', '/');
}

/** The Herald topic of an MQTT topic made by {@link toMqttTopic}: every `/` becomes `.`. */
export function fromMqttTopic(topic: string): string {
  return topic.replaceAll('/', '.');
}

/**
 * Parses `mqtt://[user[:password]@]host[:port]`. Rejects anything else (other schemes, paths,
 * queries) with `CONFIG_INVALID` and a message that never repeats the password.
 */
export function parseMqttUrl(url: string): MqttAddress {
  // Everything up to the last '@' may be credentials, even in a string that is not a url.
  const redacted = maskCredentials(url);
  const invalid = (why: string): HeraldError =>
    new HeraldError(ErrorCodes.CONFIG_INVALID, `mqtt url '${redacted}' ${why}; expected mqtt://host:port`, { details: { option: 'url' } });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid('is not a url');
  }
  if (parsed.protocol !== 'mqtt:') throw invalid(`has scheme '${parsed.protocol}'`);
  if (parsed.hostname === '') throw invalid('has no host');
  if (!/^\/?$/.test(parsed.pathname) || parsed.search !== '' || parsed.hash !== '') throw invalid('has a path, query or fragment');
  const port = parsed.port === '' ? 1883 : Number(parsed.port);
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    display: `mqtt://${parsed.host}`,
  };
}
