// The relay→broker link fails mid-publish, after the broker stored a batch and before its answer
// reached the relay: the ambiguous ack. The relay cannot know, so it sends again.
// - reset: 3× (answers held 0.8 s, then every connection reset for 1 s).
// - blackhole: answers held until a produce request has gone through, then nothing passes either
//   way for 12 s, longer than the publisher's 10 s ack timeout (and so one idempotent producer
//   session, the broker's dedup window): a network partition.
import type { Scenario } from '../scenario.js';
import { waitUntil } from '../util.js';

/** How the link fails. */
export type LinkFault = 'reset' | 'blackhole';

/** The row for a `fault` of the relay→broker link. */
export function brokerLinkFault(fault: LinkFault): Scenario {
  const reset = fault === 'reset';
  return {
    name: `broker-link-${fault}`,
    title: reset ? 'broker link reset mid-publish (ambiguous ack)' : 'broker link blackholed 12 s, past the 10 s ack timeout',
    sources: ['polling', 'logical'],
    brokers: ['kafka', 'rabbitmq'],
    ...(reset ? { quick: ['polling'] as const } : {}),
    expected: reset ? '0 lost; duplicates of the unanswered batch' : '0 lost; duplicates after the partition',
    allowed: (_source, broker) => ({
      duplicates:
        broker === 'rabbitmq'
          ? 'an ambiguous ack: RabbitMQ routed the messages but their confirms died with the connection; the relay sends the batch again and RabbitMQ does not deduplicate (same ce-id; consumers dedupe)'
          : reset
            ? "an ambiguous ack: the broker stored the batch but the answer died with the connection; the relay's retry runs in a new producer session, which Kafka's idempotence does not dedupe"
            : 'the publish timed out with its outcome unknown; the retry, in a new producer session after the partition, is not deduplicated by the broker',
    }),
    async run(ctx) {
      await ctx.startRelay();
      await ctx.waitForDelivered(20, 20_000);
      if (reset) {
        ctx.faultStarted(`3× (hold ${ctx.broker} answers 0.8 s, then reset every relay→${ctx.broker} connection for 1 s)`);
        for (let round = 0; round < 3; round++) {
          await ctx.brokerProxy.fault({ durationMs: 800, hold: 'downstream' });
          await ctx.brokerProxy.fault({ durationMs: 1_000, reset: true });
          await ctx.sleep(1_000);
        }
      } else {
        ctx.faultStarted('relay→broker: answers held until a produce request has gone through, then blackhole both ways 12 s');
        const before = ctx.brokerProxy.stats.bytesUp;
        void ctx.brokerProxy.fault({ durationMs: 5_000, hold: 'downstream' });
        const inFlight = await waitUntil(() => ctx.brokerProxy.stats.bytesUp > before, 5_000, 20);
        await ctx.sleep(200);
        ctx.note(inFlight ? 'a request reached the broker while its answer was held' : 'no request went out in 5 s of held answers');
        await ctx.brokerProxy.fault({ durationMs: 12_000, blackhole: true });
      }
      await ctx.faultEnded();
    },
  };
}
