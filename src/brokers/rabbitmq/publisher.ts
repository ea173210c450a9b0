import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { importPeer } from '../peer.js';
import { maskCredentials } from '../mask.js';
import { bounded } from '../bounded.js';
import { ceAttributes, reportDelivered, storedPrefixes, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Options of {@link RabbitMqPublisher}. Defaults are in {@link rabbitMqDefaults}. */
export interface RabbitMqPublisherOptions {
  /** `amqp://user:pass@host:port/vhost` (or `amqps://`). Messages show it with the password as `***`. */
  readonly url: string;
  /**
   * The exchange every event is published to, with the event's topic as routing key. Default
   * `herald`, meant to be a durable `topic` exchange: bind a queue with the topic name (or a
   * pattern such as `orders.#`). `''` is the default exchange, which routes to the queue named
   * like the topic.
   */
  readonly exchange?: string;
  /** Declare the exchange (durable, type `topic`) in `prepare()` when it is missing, instead of failing. Default false. */
  readonly createExchange?: boolean;
  /** The connection name shown by the management UI and `rabbitmqctl list_connections`. Default `herald-relay`. */
  readonly connectionName?: string;
  /** Longest wait to connect, open a channel or check the exchange, in ms. Default 5000. */
  readonly timeoutMs?: number;
  /**
   * Longest wait for the confirms of one batch, in ms. Past it the connection is discarded and the
   * batch reported as `BROKER_UNAVAILABLE`. Keep it below half the relay lease. Default 10000.
   */
  readonly ackTimeoutMs?: number;
}

/** The defaults of {@link RabbitMqPublisherOptions}, in one table. */
export const rabbitMqDefaults = {
  exchange: 'herald',
  createExchange: false,
  connectionName: 'herald-relay',
  timeoutMs: 5_000,
  ackTimeoutMs: 10_000,
} as const;

type AmqpModule = typeof import('amqplib');
type ChannelModel = import('amqplib').ChannelModel;
type Channel = import('amqplib').Channel;
type ConfirmChannel = import('amqplib').ConfirmChannel;
type Message = import('amqplib').Message;

/** The prefix of the CloudEvents attributes among the AMQP headers (CloudEvents AMQP binding). */
export const cePrefix = 'cloudEvents:';

/** What the connection and channel listeners learnt; read by the publish that fails. */
interface Health {
  /** Set once the connection or the channel closed; the next publish opens a new link. */
  dead: boolean;
  /** The first error the server or the socket reported, the best explanation of a failure. */
  failure: Error | undefined;
  /** The reason of a `connection.blocked` (a memory or disk alarm) while it lasts. */
  blocked: string | undefined;
}

/** One connection and its confirm channel, replaced as a whole when either dies. */
interface Link {
  readonly model: ChannelModel;
  readonly channel: ConfirmChannel;
  readonly health: Health;
}

/**
 * Publishes to RabbitMQ (AMQP 0-9-1) with `amqplib` (an optional peer dependency).
 *
 * - Routing: every event goes to one exchange (default `herald`, a durable topic exchange) with
 *   its topic as routing key. `prepare()` checks the exchange, or declares it with `createExchange`;
 *   it cannot check bindings, so a topic without a bound queue is found by the first publish.
 * - Durability: publisher confirms on one channel; messages are persistent (delivery mode 2) and
 *   published `mandatory`. `publish` resolves after the broker confirmed every message, which for
 *   durable queues means written to disk. A message no queue is bound for comes back
 *   (`basic.return`, before its confirm) and rejects the batch as `PUBLISH_REJECTED`, naming the
 *   exchange and routing key; it is never reported as delivered.
 * - Ordering: a batch is published in order on a single channel, and RabbitMQ keeps the order of
 *   one channel within each queue, so one key's events keep their order. A `nack` (a rare internal
 *   broker error) may let later events of the same key through; the relay then retries the refused one.
 *   A rejection reports the events confirmed and not returned, per key up to its first refusal
 *   (`reportDelivered`), so that the relay does not send them again.
 * - CloudEvents AMQP binding, binary content mode: `data` is the body, byte for byte; attributes
 *   are headers prefixed `cloudEvents:` (`cloudEvents:id`, ...); `content-type` is
 *   `application/json`; `message-id` is the event id, the consumers' dedup key (RabbitMQ itself
 *   does not deduplicate).
 * - Failures: a dead connection or channel is replaced on the next publish, so after a broker
 *   restart the first publish may reject with a retryable `BROKER_UNAVAILABLE`.
 */
export class RabbitMqPublisher implements Publisher {
  readonly name = 'rabbitmq';
  readonly #options: Required<RabbitMqPublisherOptions>;
  /** The URL with its password masked: the only form of it that appears in messages. */
  readonly #where: string;
  readonly #password: string;
  #amqp: AmqpModule | undefined;
  #link: Link | undefined;
  #linking: Promise<Link> | undefined;
  #closed = false;

  constructor(options: RabbitMqPublisherOptions) {
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as RabbitMqPublisherOptions;
    this.#options = { ...rabbitMqDefaults, ...given };
    ({ redacted: this.#where, password: this.#password } = parseAmqpUrl(options.url));
    const exchange = this.#options.exchange;
    if (typeof exchange !== 'string' || Buffer.byteLength(exchange) > 255) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, "rabbitmq option 'exchange' must be a name of at most 255 bytes", {
        details: { option: 'exchange' },
      });
    }
    for (const key of ['timeoutMs', 'ackTimeoutMs'] as const) {
      const v = this.#options[key];
      if (!Number.isInteger(v) || v < 1) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `rabbitmq option '${key}' must be a positive integer, got ${String(v)}`, {
          details: { option: key },
        });
      }
    }
  }

  /**
   * Checks that the exchange exists, declaring it (durable, `topic`) when `createExchange` is set;
   * rejects with `TOPIC_NOT_FOUND` otherwise. Topics are routing keys and need nothing.
   */
  async prepare(_topics: readonly string[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'rabbitmq publisher is closed');
    const exchange = this.#options.exchange;
    const what = (): string => `cannot prepare rabbitmq exchange '${exchange}'`;
    const link = await this.#connect(what);
    // The default exchange always exists and routes by queue name: there is nothing to check.
    if (exchange === '') return;
    const exists = await this.#sideChannel(link, (ch) => ch.checkExchange(exchange), what).then(
      () => true,
      (cause: unknown) => {
        if ((cause as { code?: unknown }).code === 404) return false;
        throw this.#classify(cause, what());
      },
    );
    if (exists) return;
    if (!this.#options.createExchange) {
      throw new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `rabbitmq exchange '${exchange}' does not exist on ${this.#where}; declare it (a durable topic exchange), point the exchange option at an existing one, or set createExchange`,
        { details: { exchange } },
      );
    }
    // Another relay may declare it at the same moment; an identical declaration is harmless.
    await this.#sideChannel(link, (ch) => ch.assertExchange(exchange, 'topic', { durable: true }), what).catch((cause: unknown) => {
      throw this.#classify(cause, `cannot declare rabbitmq exchange '${exchange}'`);
    });
  }

  /**
   * Publishes the batch in order and resolves once the broker confirmed every event; rejects if
   * any was nacked (`PUBLISH_FAILED`), returned as unroutable (`PUBLISH_REJECTED`) or lost with
   * its channel or connection (then any subset may have been delivered).
   */
  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'rabbitmq publisher is closed');
    if (batch.length === 0) return;
    // Built only when an error needs it: this is the relay's hot path.
    const what = (): string =>
      `cannot publish ${batch.length} event(s) to rabbitmq exchange '${this.#options.exchange}' (routing key(s) ${[
        ...new Set(batch.map((e) => `'${e.topic}'`)),
      ].join(', ')})`;
    const link = await this.#connect(what);
    if (link.health.blocked !== undefined) {
      // A blocked connection accepts writes and never answers them; failing now beats the ack timeout.
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `${what()}: ${this.#where} blocks publishers (${link.health.blocked}); free memory or disk space on the broker`,
        { retryable: true },
      );
    }
    let refusal: HeraldError | undefined;
    try {
      refusal = await this.#deliver(link, batch, what);
    } catch (cause) {
      // The channel is dead, timed out or in an unknown state: start afresh on the next publish.
      this.#discard(link);
      throw this.#classify(cause instanceof HeraldError ? cause : (link.health.failure ?? cause), what());
    }
    if (refusal) throw refusal;
  }

  /**
   * Publishes `batch` in order and waits for every confirm. Resolves with the refusal of a healthy
   * channel (nack, returned message), rejects when the channel or connection failed.
   */
  async #deliver(link: Link, batch: readonly OutgoingEvent[], what: () => string): Promise<HeraldError | undefined> {
    const ids = new Set(batch.map((e) => e.event.id));
    const returned: Message[] = [];
    // RabbitMQ sends basic.return before the confirm of the same message, so every return of this
    // batch has arrived once all its confirms have.
    const onReturn = (m: Message): void => {
      if (ids.has(m.properties.messageId as string)) returned.push(m);
    };
    link.channel.on('return', onReturn);
    try {
      const confirms: Promise<Error | null>[] = [];
      for (const e of batch) {
        let settle!: (err: Error | null) => void;
        confirms.push(new Promise((resolve) => (settle = resolve)));
        // May throw (channel closed, headers too large): stop there, so no later event of a key
        // overtakes a failed earlier one.
        link.channel.publish(this.#options.exchange, e.topic, Buffer.from(e.data, 'utf8'), propertiesOf(e), (err: unknown) =>
          settle(err ? (err as Error) : null),
        );
      }
      const outcomes = await this.#bounded(
        Promise.all(confirms),
        this.#options.ackTimeoutMs,
        () =>
          `${what()}: no confirm from ${this.#where} within ${this.#options.ackTimeoutMs} ms; ${
            link.health.blocked === undefined
              ? 'is the broker running?'
              : `it blocks publishers (${link.health.blocked}); free memory or disk space on the broker`
          }`,
      );
      const failed = outcomes.find((o) => o !== null);
      if (failed && failed.message !== 'message nacked') throw failed;
      // Confirmed and not returned: a queue has it. Reported per key up to its first refusal.
      const returnedIds = new Set(returned.map((m) => m.properties.messageId as string));
      const stored = (): number[] => storedPrefixes(batch, (i) => outcomes[i] === null && !returnedIds.has(batch[i]!.event.id));
      if (failed) {
        const nacked = new HeraldError(
          ErrorCodes.PUBLISH_FAILED,
          `${what()}: rabbitmq refused (nack) ${outcomes.filter((o) => o).length} event(s)`,
          {
            cause: failed,
            retryable: true,
          },
        );
        return reportDelivered(nacked, stored());
      }
      if (returned.length > 0) return reportDelivered(this.#unroutable(returned, what()), stored());
      return undefined;
    } finally {
      link.channel.off('return', onReturn);
    }
  }

  #unroutable(returned: Message[], what: string): HeraldError {
    const f = returned[0]!.fields as Message['fields'] & { replyCode?: number; replyText?: string };
    return new HeraldError(
      ErrorCodes.PUBLISH_REJECTED,
      `${what}: rabbitmq returned ${returned.length} event(s) as unroutable (${f.replyCode} ${f.replyText}): no queue is bound to exchange '${f.exchange}' with routing key '${f.routingKey}'; bind a queue for it or map the contract to a bound topic`,
      {
        details: {
          exchange: f.exchange,
          routingKeys: [...new Set(returned.map((m) => m.fields.routingKey))],
          eventIds: returned.map((m) => m.properties.messageId as string),
        },
      },
    );
  }

  /** Waits for `operation` at most `ms`; past it, rejects with a retryable `BROKER_UNAVAILABLE`. */
  #bounded<T>(operation: Promise<T>, ms: number, message: () => string): Promise<T> {
    return bounded(operation, ms, () => new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, message(), { retryable: true }));
  }

  /** Closes the connection; later calls do nothing, and `publish` then rejects with `CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // A connection being opened now is closed by #open itself once it sees #closed.
    await this.#linking?.catch(() => undefined);
    const link = this.#link;
    this.#link = undefined;
    if (link) await shut(link.model, this.#options.timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #module(): Promise<AmqpModule> {
    if (this.#amqp) return this.#amqp;
    this.#amqp = await importPeer('rabbitmq', ['amqplib'], () => import('amqplib'));
    return this.#amqp;
  }

  async #connect(what: () => string): Promise<Link> {
    const current = this.#link;
    if (current && !current.health.dead) return current;
    // A channel the server closed (404 on publish) leaves its connection open.
    if (current) this.#discard(current);
    this.#linking ??= this.#open().finally(() => (this.#linking = undefined));
    try {
      return await this.#linking;
    } catch (cause) {
      throw cause instanceof HeraldError ? cause : this.#unreachable(cause, what());
    }
  }

  async #open(): Promise<Link> {
    const amqp = await this.#module();
    const { timeoutMs, connectionName } = this.#options;
    const connecting = amqp.connect(this.#options.url, { timeout: timeoutMs, clientProperties: { connection_name: connectionName } });
    let model: ChannelModel;
    try {
      model = await this.#bounded(connecting, timeoutMs, () => `cannot connect to rabbitmq at ${this.#where} within ${timeoutMs} ms`);
    } catch (err) {
      connecting.then(
        (m) => shut(m, timeoutMs),
        () => undefined,
      );
      throw err;
    }
    const health: Health = { dead: false, failure: undefined, blocked: undefined };
    // Listeners first: an 'error' event nobody listens to would crash the process.
    model.on('error', (err: Error) => (health.failure ??= err));
    model.on('close', () => (health.dead = true));
    model.on('blocked', (reason: string) => (health.blocked = reason || 'resource alarm'));
    model.on('unblocked', () => (health.blocked = undefined));
    let channel: ConfirmChannel;
    try {
      channel = await this.#bounded(
        model.createConfirmChannel(),
        timeoutMs,
        () => `cannot open a channel on ${this.#where} within ${timeoutMs} ms`,
      );
    } catch (err) {
      await shut(model, timeoutMs);
      throw err;
    }
    channel.on('error', (err: Error) => (health.failure ??= err));
    channel.on('close', () => (health.dead = true));
    // Concurrent publishes each listen for returns while they wait.
    channel.setMaxListeners(0);
    const link: Link = { model, channel, health };
    if (this.#closed) {
      await shut(model, timeoutMs);
      throw new HeraldError(ErrorCodes.CLOSED, 'rabbitmq publisher is closed');
    }
    this.#link = link;
    return link;
  }

  /** Forgets `link` and closes its connection in the background. */
  #discard(link: Link): void {
    if (this.#link === link) this.#link = undefined;
    void shut(link.model, this.#options.timeoutMs);
  }

  /**
   * Runs `rpc` on a short-lived channel: a failed declaration closes the channel it ran on, and
   * the publishing channel must survive that.
   */
  async #sideChannel<T>(link: Link, rpc: (channel: Channel) => Promise<T>, what: () => string): Promise<T> {
    const ms = this.#options.timeoutMs;
    const timedOut = (): string => `${what()}: no answer from ${this.#where} within ${ms} ms`;
    const channel = await this.#bounded(link.model.createChannel(), ms, timedOut);
    // The failed rpc's rejection reports the error; the event would crash the process unheard.
    channel.on('error', () => undefined);
    try {
      return await this.#bounded(rpc(channel), ms, timedOut);
    } finally {
      channel.close().catch(() => undefined);
    }
  }

  #unreachable(cause: unknown, what: string): HeraldError {
    return new HeraldError(
      ErrorCodes.BROKER_UNAVAILABLE,
      `${what}: cannot reach rabbitmq at ${this.#where}: ${this.#describe(cause)}; check the address, user, password and vhost, and that the broker is running`,
      { cause, retryable: true },
    );
  }

  /**
   * Turns an amqplib error into a HeraldError by its AMQP reply code: 404 is a missing exchange;
   * 403, 406 (message larger than the broker's maximum), 311 and 501 (frame or content too
   * large) and a RangeError (headers over 64 KiB) are refusals retrying will not fix; socket
   * errors, closed channels and connections, 320 (broker shutting down) and 506 (broker out of
   * resources) mean the broker is unavailable; anything else may pass later.
   */
  #classify(cause: unknown, what: string): HeraldError {
    if (cause instanceof HeraldError) return cause;
    const code = (cause as { code?: unknown } | null)?.code;
    const reason = this.#describe(cause);
    if (code === 404) {
      return new HeraldError(
        ErrorCodes.TOPIC_NOT_FOUND,
        `${what}: ${reason}; declare the exchange or set createExchange and run prepare()`,
        { cause, retryable: true, details: { exchange: this.#options.exchange } },
      );
    }
    if (cause instanceof RangeError || code === 403 || code === 406 || code === 311 || code === 501) {
      return new HeraldError(ErrorCodes.PUBLISH_REJECTED, `${what}: rejected by the broker: ${reason}`, { cause });
    }
    if (rabbitMqUnavailable(cause, reason)) {
      return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: rabbitmq at ${this.#where} unavailable: ${reason}`, {
        cause,
        retryable: true,
      });
    }
    return new HeraldError(ErrorCodes.PUBLISH_FAILED, `${what}: ${reason}`, { cause, retryable: true });
  }

  /** The message of `err` with the password masked, in case a client message ever echoes it. */
  #describe(err: unknown): string {
    const message = messageOf(err);
    return this.#password === '' ? message : message.split(this.#password).join('***');
  }
}

function propertiesOf(e: OutgoingEvent): import('amqplib').Options.Publish {
  const headers: Record<string, string> = {};
  const attrs = e.event as unknown as Record<string, string | undefined>;
  for (const name of ceAttributes) {
    const value = attrs[name];
    if (value !== undefined) headers[`${cePrefix}${name}`] = value;
  }
  return { persistent: true, mandatory: true, messageId: e.event.id, contentType: 'application/json', headers };
}

/**
 * Closes a connection; never rejects (it is discarded anyway). A broker that does not answer
 * `connection.close` within `ms` would leave the socket open, so it is destroyed then.
 */
export async function shut(model: ChannelModel, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    model.close().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  if (!closed) (model.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
}

/**
 * Checks that `url` is `amqp[s]://[user[:pass]@]host[:port][/vhost]`; returns it with the password
 * masked as `***`, and the password (to mask it in client messages too).
 */
export function parseAmqpUrl(url: unknown): { redacted: string; password: string } {
  const fail = (shown: string): never => {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `rabbitmq option 'url' must look like amqp://user:pass@host:5672/vhost, got '${shown}'`,
      {
        details: { option: 'url' },
      },
    );
  };
  if (typeof url !== 'string') return fail(typeof url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Unparsable: mask whatever sits between '//user:' and '@' before showing it.
    return fail(maskCredentials(url));
  }
  let password = parsed.password;
  try {
    password = decodeURIComponent(password);
  } catch {
    // A malformed escape is sent as written; mask it as written.
  }
  if (parsed.password !== '') parsed.password = '***';
  if (!['amqp:', 'amqps:'].includes(parsed.protocol) || parsed.hostname === '') fail(parsed.toString());
  return { redacted: parsed.toString(), password };
}

/**
 * Whether an amqplib error means the broker cannot be reached: network errors (`E…` codes),
 * 320 (broker shutting down), 506 (out of resources), a closed channel or connection — amqplib
 * says "Unexpected close" when the socket drops mid-publish, "Channel closed" and the like
 * otherwise — a socket or heartbeat failure, a timeout.
 */
export function rabbitMqUnavailable(cause: unknown, reason: string): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  return (
    (typeof code === 'string' && code.startsWith('E')) ||
    code === 320 ||
    code === 506 ||
    (cause as { name?: unknown } | null)?.name === 'IllegalOperationError' ||
    /\bclos(e|ed|ing)\b|socket|heartbeat|ETIMEDOUT/i.test(reason)
  );
}
