import type { OutgoingEvent, Publisher } from './publisher.js';

/**
 * Decorates a publisher so that events go to renamed topics: `map[topic] ?? topic`. The outbox
 * keeps each contract's own topic; deployments rename at the relay without rewriting rows.
 */
export function withTopicMap(publisher: Publisher, map: Readonly<Record<string, string>>): Publisher {
  if (Object.keys(map).length === 0) return publisher;
  const rename = (topic: string): string => map[topic] ?? topic;
  return {
    name: publisher.name,
    prepare: (topics) => publisher.prepare(topics.map(rename)),
    publish: (batch) => publisher.publish(batch.map((e): OutgoingEvent => ({ ...e, topic: rename(e.topic) }))),
    // Passed through, or a Kafka relay with renamed topics would publish without fencing.
    ...(publisher.fence ? { fence: publisher.fence.bind(publisher) } : {}),
    close: () => publisher.close(),
  };
}
