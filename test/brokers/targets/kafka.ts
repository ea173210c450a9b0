import { KafkaPublisher } from '../../../src/brokers/kafka/publisher.js';
import { KAFKA, createTopic, readTopic, services, uniqueName } from '../../support/services.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

/** `ce_*` headers back to CloudEvents attribute names. */
function attributesOf(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => name.startsWith('ce_'))
      .map(([name, value]) => [name.slice(3), value]),
  );
}

/**
 * The KRaft broker `scripts/services.sh` starts. `read` needs no wait of its own: readTopic waits
 * until the commit markers of a resolved transactional `publish` are written, then kcat reads the
 * topic to its end, and everything that `publish` wrote is there.
 */
export const kafkaTarget: ConformanceTarget = {
  name: 'kafka',
  publisher: () => new KafkaPublisher({ brokers: KAFKA, ackTimeoutMs: 10_000, timeoutMs: 5000, retries: 3 }),
  unreachablePublisher: () => new KafkaPublisher({ brokers: '127.0.0.1:1', ackTimeoutMs: 1500, timeoutMs: 500, retries: 0 }),
  topic: async () => {
    const topic = uniqueName('conformance').replace('_', '.');
    await createTopic(topic);
    return topic;
  },
  read: async (topic): Promise<ReceivedMessage[]> =>
    (await readTopic(topic)).map((m) => ({
      id: m.headers.ce_id!,
      data: m.payload,
      attributes: attributesOf(m.headers),
      orderingKey: m.key,
    })),
  ordersPerKey: true,
  permanentRejection: async (publisher) => {
    const topic = uniqueName('conformance.small').replace('_', '.');
    await createTopic(topic, { 'max.message.bytes': '1000' });
    const big = { ...outgoing(topic, 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(5000) }) };
    return publisher.publish([big]).then(
      () => undefined,
      (e: unknown) => e,
    );
  },
  restart: () => services('kafka-restart'),
};
