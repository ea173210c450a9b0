import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { bounded } from '../bounded.js';
import { decodeIncoming } from '../incoming.js';
import { importPeer } from '../peer.js';
import { cePrefix, parseAmqpUrl, rabbitMqDefaults, shut } from './publisher.js';
import { BatchBuffer, subscriberSettings, type SubscriberSettings } from '../subscriber-buffer.js';
import type { IncomingEvent, Subscriber, SubscriberBatch, SubscriberOptions } from '../subscriber.js';

/** Options of {@link RabbitMqSubscriber}; the shared ones default as in `subscriberDefaults`. */
export interface RabbitMqSubscriberOptions extends SubscriberOptions {
  /** `amqp://user:pass@host:port/vhost` (or `amqps://`), as for the publisher. Messages show it with the password as `***`. */
  readonly url: string;
  /** The exchange the publisher publishes to, which the queues are bound to. Default `herald`, as for the publisher. */
  readonly exchange?: string;
}

type AmqpModule = typeof import('amqplib');
type ChannelModel = import('amqplib').ChannelModel;
type Channel = import('amqplib').Channel;
type ConsumeMessage = import('amqplib').ConsumeMessage;

interface Received {
  readonly topic: string;
  readonly message: ConsumeMessage;
  /** The channel that delivered it: acks are only valid there. */
  readonly channel: Channel;
}

/** Longest wait to connect, for one declaration or check, and for a batch's ack, in ms. */
const timeoutMs = 5_000;

/**
 * Reads RabbitMQ (AMQP 0-9-1) with `amqplib` (an optional peer dependency).
 *
 * - Queues: one durable queue per topic, named `<group>.<topic>`, bound to the exchange with the
 *   topic as routing key. `prepare()` checks each queue; with `createSubscriptions` it declares and
 *   binds it instead. A queue receives only what is published after it is bound.
 * - Delivery: one channel with manual acks and a prefetch of `maxBatch` per queue; a queue keeps
 *   its publish order, except that a redelivered message may come after later ones.
 * - `ack()` acks the whole batch and then waits for a `basic.qos` round trip on the same channel:
 *   AMQP does not confirm acks, but the broker handles a channel's frames in order, so its answer
 *   means every ack was processed. Rejects with `BROKER_UNAVAILABLE` when the channel is gone (the
 *   broker then requeued the messages itself).
 * - `close()` closes the connection, and RabbitMQ requeues at once every message delivered and not
 *   acknowledged, handed out or held; the group's next subscriber gets them.
 * - A lost connection ends the iteration with `BROKER_UNAVAILABLE`; open a new subscriber then.
 * - Events: position = the AMQP `message-id` (queues have no positions); attributes from the
 *   `cloudEvents:` headers, `id` falling back to the `message-id`.
 */
export class RabbitMqSubscriber implements Subscriber {
  readonly name = 'rabbitmq';
  readonly #settings: SubscriberSettings;
  readonly #exchange: string;
  readonly #url: string;
  /** The URL with its password masked: the only form of it that appears in messages. */
  readonly #where: string;
  readonly #password: string;
  #amqp: AmqpModule | undefined;
  #model: ChannelModel | undefined;
  #connecting: Promise<ChannelModel> | undefined;
  #buffer: BatchBuffer<Received> | undefined;
  /** Messages handed out and not yet acknowledged, across batches. */
  #outstanding = 0;
  #prepared = false;
  #closed = false;

  constructor(options: RabbitMqSubscriberOptions) {
    ({ redacted: this.#where, password: this.#password } = parseAmqpUrl(options.url));
    this.#url = options.url;
    this.#settings = subscriberSettings('rabbitmq', options);
    this.#exchange = options.exchange ?? rabbitMqDefaults.exchange;
    if (typeof this.#exchange !== 'string' || this.#exchange === '' || Buffer.byteLength(this.#exchange) > 255) {
      // The default exchange '' routes by queue name and takes no bindings.
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, "rabbitmq subscriber option 'exchange' must be a name of 1 to 255 bytes", {
        details: { option: 'exchange' },
      });
    }
    for (const topic of this.#settings.topics) {
      const queue = this.#queue(topic);
      if (Buffer.byteLength(queue) > 255 || queue.startsWith('amq.')) {
        throw new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `rabbitmq queue name '${queue}' (group '${this.#settings.group}', topic '${topic}') must be at most 255 bytes and not start with 'amq.'; choose another group`,
          { details: { option: 'group' } },
        );
      }
    }
  }

  /**
   * Checks every queue `<group>.<topic>`, or with `createSubscriptions` declares it (durable) and
   * binds it to the exchange. Rejects with `TOPIC_NOT_FOUND` naming a missing queue or exchange,
   * `BROKER_UNAVAILABLE` when the broker cannot be reached.
   */
  async prepare(): Promise<void> {
    const model = await this.#connect();
    for (const topic of this.#settings.topics) {
      const queue = this.#queue(topic);
      if (!this.#settings.createSubscriptions) {
        await this.#rpc(model, (ch) => ch.checkQueue(queue), `cannot check rabbitmq queue '${queue}'`, {
          missing: `rabbitmq queue '${queue}' does not exist on ${this.#where}; declare it (durable) and bind it to exchange '${this.#exchange}' with routing key '${topic}', or set createSubscriptions`,
          details: { queue },
        });
        continue;
      }
      await this.#rpc(model, (ch) => ch.checkExchange(this.#exchange), `cannot check rabbitmq exchange '${this.#exchange}'`, {
        missing: `rabbitmq exchange '${this.#exchange}' does not exist on ${this.#where}; declare it (a durable topic exchange) or run the publisher's prepare with createExchange`,
        details: { exchange: this.#exchange },
      });
      // Another loader may declare the same queue at the same moment; identical declarations are harmless.
      await this.#rpc(
        model,
        async (ch) => {
          await ch.assertQueue(queue, { durable: true });
          await ch.bindQueue(queue, this.#exchange, topic);
        },
        `cannot declare rabbitmq queue '${queue}' bound to exchange '${this.#exchange}'`,
      );
    }
    this.#prepared = true;
  }

  /** Batches of at most `maxBatch` messages from every queue; ends on `close()` or when `signal` aborts. */
  async *batches(signal?: AbortSignal): AsyncIterable<SubscriberBatch> {
    if (!this.#prepared) await this.prepare();
    const buffer = await this.#start();
    const { maxBatch, maxWaitMs } = this.#settings;
    for (;;) {
      const received = await buffer.next(maxBatch, maxWaitMs, signal);
      if (received === undefined) return;
      this.#outstanding += received.length;
      let acked: Promise<void> | undefined;
      yield { events: received.map(toEvent), ack: () => (acked ??= this.#ack(received)) };
    }
  }

  async #ack(received: readonly Received[]): Promise<void> {
    const what = `cannot acknowledge ${received.length} rabbitmq message(s) of group '${this.#settings.group}'`;
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, `${what}: the subscriber is closed; they will be delivered again`);
    const { channel } = received[0]!;
    try {
      // One ack for all when no earlier batch is still open: its tags would be covered too.
      if (this.#outstanding === received.length) channel.ack(received[received.length - 1]!.message, true);
      else for (const { message } of received) channel.ack(message);
      this.#outstanding -= received.length;
      // The broker answers basic.qos only after every earlier frame of the channel, these acks included.
      await bounded(channel.prefetch(this.#settings.maxBatch), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    } catch (cause) {
      throw new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: ${this.#describe(cause)}; they will be delivered again`, {
        cause,
        retryable: true,
      });
    }
  }

  /** Closes the connection, which makes RabbitMQ requeue every unacknowledged message; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#buffer?.end();
    const model = this.#model ?? (await this.#connecting?.catch(() => undefined));
    this.#model = undefined;
    if (model) await shut(model, timeoutMs);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Opens the consuming channel, the first time an iteration starts. */
  async #start(): Promise<BatchBuffer<Received>> {
    if (this.#buffer) return this.#buffer;
    const model = await this.#connect();
    const buffer = new BatchBuffer<Received>();
    this.#buffer = buffer;
    // The first failure wins: a deleted queue (404) closes the channel, and 'error' comes before 'close'.
    const lost = (cause: unknown): void => {
      if (this.#closed) return;
      buffer.fail(this.#classify(cause, `rabbitmq subscriber of group '${this.#settings.group}' lost its channel`));
    };
    try {
      const channel = await bounded(model.createChannel(), timeoutMs, () => new Error(`no channel within ${timeoutMs} ms`));
      // Listeners first: an 'error' event nobody listens to would crash the process.
      channel.on('error', lost);
      channel.on('close', () => lost(new Error('channel closed')));
      await bounded(channel.prefetch(this.#settings.maxBatch), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
      for (const topic of this.#settings.topics) {
        const queue = this.#queue(topic);
        const consuming = channel.consume(queue, (message) => {
          // null: the broker cancelled the consumer, because the queue was deleted.
          if (message === null) {
            buffer.fail(
              new HeraldError(
                ErrorCodes.TOPIC_NOT_FOUND,
                `rabbitmq queue '${queue}' on ${this.#where} was deleted; declare it again and restart`,
                {
                  details: { queue },
                },
              ),
            );
          } else buffer.push({ topic, message, channel });
        });
        await bounded(consuming, timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
      }
    } catch (cause) {
      buffer.fail(this.#classify(cause, `cannot start consuming on ${this.#where}`));
    }
    return buffer;
  }

  /**
   * Runs `rpc` on a short-lived channel: a failed check closes the channel it ran on. A 404 is
   * `missing` as `TOPIC_NOT_FOUND` when given.
   */
  async #rpc<T>(
    model: ChannelModel,
    rpc: (channel: Channel) => Promise<T>,
    what: string,
    notFound?: { missing: string; details: Record<string, unknown> },
  ): Promise<T> {
    const late = (): Error => new Error(`no answer within ${timeoutMs} ms`);
    try {
      const channel = await bounded(model.createChannel(), timeoutMs, late);
      // The failed rpc's rejection reports the error; the event would crash the process unheard.
      channel.on('error', () => undefined);
      try {
        return await bounded(rpc(channel), timeoutMs, late);
      } finally {
        channel.close().catch(() => undefined);
      }
    } catch (cause) {
      if (notFound && (cause as { code?: unknown }).code === 404) {
        throw new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, notFound.missing, { cause, details: notFound.details });
      }
      throw this.#classify(cause, what);
    }
  }

  async #module(): Promise<AmqpModule> {
    this.#amqp ??= await importPeer('rabbitmq', ['amqplib'], () => import('amqplib'), 'subscriber');
    return this.#amqp;
  }

  async #connect(): Promise<ChannelModel> {
    if (this.#closed) throw new HeraldError(ErrorCodes.CLOSED, 'rabbitmq subscriber is closed');
    if (this.#model) return this.#model;
    this.#connecting ??= this.#open().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #open(): Promise<ChannelModel> {
    const amqp = await this.#module();
    const connecting = amqp.connect(this.#url, {
      timeout: timeoutMs,
      clientProperties: { connection_name: 'herald-subscriber' },
    });
    let model: ChannelModel;
    try {
      model = await bounded(connecting, timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    } catch (cause) {
      connecting.then(
        (m) => shut(m, timeoutMs),
        () => undefined,
      );
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `cannot reach rabbitmq at ${this.#where}: ${this.#describe(cause)}; check the address, user, password and vhost, and that the broker is running`,
        { cause, retryable: true },
      );
    }
    // Listeners first: an 'error' event nobody listens to would crash the process.
    model.on('error', () => undefined);
    model.on('close', () => {
      if (this.#model === model) this.#model = undefined;
    });
    if (this.#closed) {
      await shut(model, timeoutMs);
      throw new HeraldError(ErrorCodes.CLOSED, 'rabbitmq subscriber is closed');
    }
    this.#model = model;
    return model;
  }

  #queue(topic: string): string {
    return `${this.#settings.group}.${topic}`;
  }

  /**
   * An amqplib error as a subscriber reports it: 404 is `TOPIC_NOT_FOUND`; 403 (access refused),
   * 406 (a queue declared with other arguments) and 530 (no such vhost) are `CONFIG_INVALID`;
   * anything else, sockets and closed channels included, a retryable `BROKER_UNAVAILABLE`.
   */
  #classify(cause: unknown, what: string): HeraldError {
    if (cause instanceof HeraldError) return cause;
    const code = (cause as { code?: unknown } | null)?.code;
    const reason = this.#describe(cause);
    if (code === 404) return new HeraldError(ErrorCodes.TOPIC_NOT_FOUND, `${what}: ${reason}`, { cause });
    if (code === 403 || code === 406 || code === 530) {
      return new HeraldError(ErrorCodes.CONFIG_INVALID, `${what}: refused by the broker: ${reason}`, { cause });
    }
    return new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `${what}: rabbitmq at ${this.#where} unavailable: ${reason}`, {
      cause,
      retryable: true,
    });
  }

  /** The message of `err` with the password masked, in case a client message ever echoes it. */
  #describe(err: unknown): string {
    const message = messageOf(err);
    return this.#password === '' ? message : message.split(this.#password).join('***');
  }
}

/** The AMQP headers as strings; `content-type` from the message properties, for structured mode. */
function toEvent({ topic, message }: Received): IncomingEvent {
  const { messageId, contentType, headers } = message.properties as { messageId?: unknown; contentType?: unknown; headers?: unknown };
  const pairs: [string, string][] = typeof contentType === 'string' ? [['content-type', contentType]] : [];
  for (const [name, value] of Object.entries((headers ?? {}) as Record<string, unknown>)) {
    if (typeof value === 'string') pairs.push([name, value]);
    else if (Buffer.isBuffer(value)) pairs.push([name, value.toString('utf8')]);
    else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') pairs.push([name, String(value)]);
    else if (value instanceof Date) pairs.push([name, value.toISOString()]);
  }
  const id = typeof messageId === 'string' ? messageId : undefined;
  const position = id ?? pairs.find(([name]) => name === `${cePrefix}id`)?.[1] ?? '';
  const event = decodeIncoming(topic, position, pairs, cePrefix, message.content.toString('utf8'));
  // Producers other than Herald may set only the message-id; it is the dedup key either way.
  return event.attributes.id === undefined && id !== undefined ? { ...event, attributes: { ...event.attributes, id } } : event;
}
