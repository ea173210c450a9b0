// The relay→Kafka link is reset mid-publish, after the broker stored the batch and before its
// answer reached the relay: the ambiguous ack. The relay cannot know, so it sends again.
import type { Scenario } from '../scenario.js';

export const brokerLinkReset: Scenario = {
  name: 'broker-link-reset',
  title: 'broker link reset mid-publish (ambiguous ack)',
  sources: ['polling', 'logical'],
  quick: ['polling'],
  expected: '0 lost; duplicates of the unanswered batch',
  allowed: {
    duplicates:
      "an ambiguous ack: the broker stored the batch but the answer died with the connection; the relay's retry runs in a new producer session, which Kafka's idempotence does not dedupe",
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('3× (hold broker answers 0.8 s, then reset every relay→kafka connection for 1 s)');
    for (let round = 0; round < 3; round++) {
      await ctx.kafkaProxy.fault({ durationMs: 800, hold: 'downstream' });
      await ctx.kafkaProxy.fault({ durationMs: 1_000, reset: true });
      await ctx.sleep(1_000);
    }
    await ctx.faultEnded();
  },
};
