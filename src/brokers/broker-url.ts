import { HeraldError, ErrorCodes } from '../errors.js';
import type { Publisher } from './publisher.js';
import type { Subscriber, SubscriberOptions } from './subscriber.js';
import { maskCredentials } from './mask.js';

/** Settings every broker understands, besides its URL. */
export interface BrokerOptions {
  /** Create missing destinations (topics, streams, exchanges) in `prepare()` instead of failing. */
  readonly createTopics?: boolean;
  /** HTTP only: HMAC-SHA256 secret for the `webhook-signature` header. */
  readonly hmacSecret?: string;
  /** Kafka only: one transaction per batch, so the broker fences a stalled relay. Default true. */
  readonly kafkaTransactions?: boolean;
}

/** The URL schemes Herald publishes to, and the broker each one means. */
export const brokerSchemes = {
  kafka: 'Apache Kafka',
  pubsub: 'Google Cloud Pub/Sub',
  nats: 'NATS JetStream',
  amqp: 'RabbitMQ',
  amqps: 'RabbitMQ (TLS)',
  redis: 'Redis Streams',
  mqtt: 'MQTT 5',
  http: 'HTTP webhook',
  https: 'HTTP webhook',
  sns: 'Amazon SNS',
  sqs: 'Amazon SQS',
} as const;

/**
 * Makes the publisher a broker URL names: `kafka://host:port[,host:port]`, `pubsub://project`
 * (`?emulator=host:port` for the emulator), `nats://host:port`, `amqp://user:pass@host/vhost`,
 * `redis://host:port`, `mqtt://host:port`, `http(s)://host/path/{topic}`, `sns://region`
 * (`?endpoint=http://host:port` for an SNS-compatible server, `&accountId=` to skip `ListTopics`), `sqs://region`
 * (the same parameters; queues by name or URL). Only the adapter of that
 * broker, and its client library, are loaded. An unknown or malformed URL is a `CONFIG_INVALID`
 * naming the schemes Herald knows; the URL is shown without its password.
 */
export async function publisherFor(url: string, options: BrokerOptions = {}): Promise<Publisher> {
  const scheme = schemeOf(url);
  const createTopics = options.createTopics === true;
  switch (scheme) {
    case 'kafka':
      return new (await import('./kafka/publisher.js')).KafkaPublisher({
        brokers: url,
        createTopics,
        ...(options.kafkaTransactions === undefined ? {} : { transactions: options.kafkaTransactions }),
      });
    case 'pubsub':
      return new (await import('./pubsub/publisher.js')).PubSubPublisher({ url, createTopics });
    case 'nats':
      return new (await import('./nats/publisher.js')).NatsPublisher({ url, createStreams: createTopics });
    case 'amqp':
    case 'amqps':
      return new (await import('./rabbitmq/publisher.js')).RabbitMqPublisher({ url, createExchange: createTopics });
    case 'redis':
      return new (await import('./redis-streams/publisher.js')).RedisStreamsPublisher({ url });
    case 'mqtt':
      return new (await import('./mqtt/publisher.js')).MqttPublisher({ url });
    case 'http':
    case 'https':
      return new (await import('./http/publisher.js')).HttpPublisher({
        url,
        ...(options.hmacSecret === undefined ? {} : { hmacSecret: options.hmacSecret }),
      });
    case 'sns':
      return new (await import('./sns/publisher.js')).SnsPublisher({ url, createTopics });
    case 'sqs':
      return new (await import('./sqs/publisher.js')).SqsPublisher({ url, createTopics });
    default:
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `option 'broker' must be a URL with one of the schemes ${Object.keys(brokerSchemes).join(', ')}, got '${maskCredentials(url)}'`,
        { details: { option: 'broker' } },
      );
  }
}

function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m ? m[1]!.toLowerCase() : '';
}

/** The URL schemes Herald subscribes to (the loader's sources). */
export const subscriberSchemes = ['kafka', 'pubsub', 'nats', 'amqp', 'amqps', 'redis'] as const;

/**
 * Makes the subscriber a broker URL names, with the same URL forms as {@link publisherFor}:
 * Kafka consumer group, Pub/Sub subscriptions, NATS durable consumer, RabbitMQ queues, Redis
 * consumer group (see {@link SubscriberOptions.group}). MQTT, HTTP and SNS have no durable,
 * acknowledged subscription Herald can resume from, so they are refused with `CONFIG_INVALID`.
 */
export async function subscriberFor(url: string, options: SubscriberOptions): Promise<Subscriber> {
  switch (schemeOf(url)) {
    case 'kafka':
      return new (await import('./kafka/subscriber.js')).KafkaSubscriber({ ...options, brokers: url });
    case 'pubsub':
      return new (await import('./pubsub/subscriber.js')).PubSubSubscriber({ ...options, url });
    case 'nats':
      return new (await import('./nats/subscriber.js')).NatsSubscriber({ ...options, url });
    case 'amqp':
    case 'amqps':
      return new (await import('./rabbitmq/subscriber.js')).RabbitMqSubscriber({ ...options, url });
    case 'redis':
      return new (await import('./redis-streams/subscriber.js')).RedisStreamsSubscriber({ ...options, url });
    default:
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `option 'broker' of the loader must be a URL with one of the schemes ${subscriberSchemes.join(', ')}, got '${maskCredentials(url)}'`,
        { details: { option: 'broker' } },
      );
  }
}
