// The relay→Kafka link swallows everything for longer than the publisher's ack timeout (and so
// longer than one idempotent producer session, the broker's dedup window): a network partition.
import type { Scenario } from '../scenario.js';
import { waitUntil } from '../util.js';

export const brokerLinkBlackhole: Scenario = {
  name: 'broker-link-blackhole',
  title: 'broker link blackholed 12 s, past the 10 s ack timeout',
  sources: ['polling', 'logical'],
  expected: '0 lost; duplicates after the partition',
  allowed: {
    duplicates:
      'the publish timed out with its outcome unknown; the retry, in a new producer session after the partition, is not deduplicated by the broker',
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    // The partition starts just after a produce request went through: the broker stores it and
    // its answer is held; then nothing passes either way for 12 s, longer than the publisher's
    // ack timeout (10 s). The publisher drops its producer; the next one has a new producer id,
    // outside the broker's idempotence (its dedup window), and sends the stored batch again.
    ctx.faultStarted('relay→kafka: answers held until a produce request has gone through, then blackhole both ways 12 s');
    const before = ctx.kafkaProxy.stats.bytesUp;
    void ctx.kafkaProxy.fault({ durationMs: 5_000, hold: 'downstream' });
    const inFlight = await waitUntil(() => ctx.kafkaProxy.stats.bytesUp > before, 5_000, 20);
    await ctx.sleep(200);
    ctx.note(inFlight ? 'a request reached the broker while its answer was held' : 'no request went out in 5 s of held answers');
    await ctx.kafkaProxy.fault({ durationMs: 12_000, blackhole: true });
    await ctx.faultEnded();
  },
};
