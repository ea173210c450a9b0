// The outside consumer of the chaos suite for RabbitMQ: an exclusive, auto-deleted queue bound to
// the relay's exchange with the row's topic as routing key, declared BEFORE the writers start (a
// RabbitMQ message reaches only the queues bound when it is routed; there is no "from the start").
// It reads every message without acks (noAck), so nothing is ever redelivered by the broker and
// every duplicate it records was published twice by a relay.
import type { DeliveredEvent } from './checker.js';
import type { ChaosPayload } from './read-topic.js';

type ChannelModel = import('amqplib').ChannelModel;
type ConsumeMessage = import('amqplib').ConsumeMessage;

/** The exchange `herald relay --broker amqp://...` publishes to (rabbitMqDefaults.exchange). */
export const RELAY_EXCHANGE = 'herald';

/**
 * Everything routed to `topic` on `exchange` since {@link RabbitReader.open} resolved, in the
 * order the queue delivered it (RabbitMQ keeps one channel's order within a queue, so this is the
 * order a single consumer of the key sees). Each message becomes a {@link DeliveredEvent} with
 * partition 0 and offset = its arrival index, so the checker reads it exactly like Kafka's.
 */
export class RabbitReader {
  readonly #model: ChannelModel;
  readonly #messages: DeliveredEvent[] = [];
  #failure: Error | undefined;

  private constructor(model: ChannelModel) {
    this.#model = model;
  }

  /**
   * Connects to `url` (directly, never through a fault proxy), makes sure the durable topic
   * exchange exists (an identical declaration is harmless on a shared server) and binds a queue
   * private to this reader for `topic`. Resolves once the binding is in place.
   */
  static async open(url: string, topic: string, exchange = RELAY_EXCHANGE): Promise<RabbitReader> {
    const amqp = await import('amqplib');
    const model = await amqp.connect(url, { clientProperties: { connection_name: `herald-chaos-reader ${topic}` } });
    const reader = new RabbitReader(model);
    model.on('error', (err: Error) => (reader.#failure ??= err));
    model.on('close', () => (reader.#failure ??= new Error(`the chaos reader's connection to RabbitMQ closed (queue for ${topic})`)));
    const channel = await model.createChannel();
    channel.on('error', (err: Error) => (reader.#failure ??= err));
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, exchange, topic);
    await channel.consume(queue, (m) => m && reader.#push(m), { noAck: true, exclusive: true });
    return reader;
  }

  #push(m: ConsumeMessage): void {
    const headers = m.properties.headers ?? {};
    const id = String(headers['cloudEvents:id'] ?? m.properties.messageId ?? '');
    let payload: Partial<ChaosPayload> = {};
    try {
      payload = JSON.parse(m.content.toString()) as Partial<ChaosPayload>;
    } catch {
      // Not JSON: left as an unknown message (empty key, seq -1) for the checker to count.
    }
    const offset = this.#messages.length;
    this.#messages.push({
      id: id || `no-ce-id@${offset}`,
      key: typeof payload.key === 'string' ? payload.key : String(headers['cloudEvents:partitionkey'] ?? ''),
      seq: typeof payload.seq === 'number' ? payload.seq : -1,
      partition: 0,
      offset,
      // RabbitMQ has no broker append time: the moment this reader received it (same machine).
      visibleAtMs: Date.now(),
    });
  }

  /** Every message received so far, in arrival order. Throws if the reader lost its connection (it would miss messages). */
  read(): DeliveredEvent[] {
    if (this.#failure) throw this.#failure;
    return [...this.#messages];
  }

  /** Closes the connection (the queue is deleted with it). */
  async close(): Promise<void> {
    this.#failure ??= new Error('closed');
    await this.#model.close().catch(() => undefined);
  }
}
