// The relay→Kafka link swallows everything for longer than the publisher's timeouts (and so
// longer than the idempotent producer's session can dedupe): a network partition.
import type { Scenario } from '../scenario.js';

export const brokerLinkBlackhole: Scenario = {
  name: 'broker-link-blackhole',
  title: 'broker link blackholed 12 s (past the dedup window)',
  sources: ['polling', 'logical'],
  expected: '0 lost; duplicates after the partition',
  allowed: {
    duplicates:
      'the publish timed out with its outcome unknown; the retry, in a new producer session after the partition, is not deduplicated by the broker',
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('blackhole relay→kafka for 12 s');
    await ctx.kafkaProxy.fault({ durationMs: 12_000, blackhole: true });
    await ctx.faultEnded();
  },
};
