import { describe, expect, it } from 'vitest';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { outgoing, publisherConformance } from './conformance.js';
import { natsTarget } from './targets/nats.js';

publisherConformance(natsTarget);

describe('nats publisher', () => {
  it('reports, with a failure, the events acknowledged before it, so that they are not sent again', async () => {
    const topic = await natsTarget.topic();
    const publisher = natsTarget.publisher();
    try {
      // The second subject has no stream: JetStream has nobody to answer for it.
      const batch = [outgoing(topic, 'a', 0), outgoing(topic, 'b', 0), outgoing(`${topic}.nostream`, 'c', 0), outgoing(topic, 'a', 1)];
      const err = await publisher.publish(batch).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: expect.any(String) });
      expect(deliveredOf(err, batch.length)).toEqual([0, 1]);
      expect((await natsTarget.read(topic, 2)).map((m) => m.id)).toEqual([batch[0]!.event.id, batch[1]!.event.id]);
    } finally {
      await publisher.close();
      await natsTarget.cleanup?.();
    }
  });
});
