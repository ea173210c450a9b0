// The relay→Kafka link swallows everything for longer than the publisher's ack timeout (and so
// longer than one idempotent producer session, the broker's dedup window): a network partition.
import type { Scenario } from '../scenario.js';

export const brokerLinkBlackhole: Scenario = {
  name: 'broker-link-blackhole',
  title: 'broker link blackholed 12 s (past the 10 s ack timeout)',
  sources: ['polling', 'logical'],
  expected: '0 lost; duplicates after the partition',
  allowed: {
    duplicates:
      'the publish timed out with its outcome unknown; the retry, in a new producer session after the partition, is not deduplicated by the broker',
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    // The partition starts just after a produce request went through: the broker stores it, its
    // answer is held, then nothing passes either way. After the publisher's ack timeout (10 s)
    // it drops the producer; the next one has a new producer id, outside the broker's dedup.
    ctx.faultStarted('relay→kafka: answers held 2 s, then blackhole both ways 10 s');
    await ctx.kafkaProxy.fault({ durationMs: 2_000, hold: 'downstream' });
    await ctx.kafkaProxy.fault({ durationMs: 10_000, blackhole: true });
    await ctx.faultEnded();
  },
};
