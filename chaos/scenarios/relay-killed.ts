// The relay is SIGKILLed with its batch on one side of the broker ack: one link of the relay
// holds what the relay sends, then the relay is killed and restarted, twice.
// - before-ack: the relay→Kafka link holds the produce request, so it never reaches the broker.
// - after-ack: the relay→PostgreSQL link holds the bookkeeping (the mark-delivered statement or,
//   for the logical source, the slot confirmation), so the ack is in and the record is not.
import type { Scenario } from '../scenario.js';

/** When the kill falls, relative to the broker's ack. */
export type KillPoint = 'before-ack' | 'after-ack';

/** The row for a SIGKILL at `when`. */
export function relayKilled(when: KillPoint): Scenario {
  const before = when === 'before-ack';
  return {
    name: `relay-killed-${when}`,
    title: before ? 'relay SIGKILL before the broker ack' : 'relay SIGKILL after broker ack, before bookkeeping',
    sources: ['polling', 'logical'],
    ...(before ? {} : { brokers: ['kafka', 'rabbitmq'] as const }),
    ...(before ? {} : { quick: ['polling'] as const }),
    expected: before ? '0 lost, 0 duplicates' : '0 lost; duplicates of the unrecorded batch',
    ...(before
      ? {}
      : {
          allowed: {
            duplicates:
              'the crash fell between the broker ack and the bookkeeping; the restarted relay sends that batch again (same ce_id)',
          },
        }),
    async run(ctx) {
      let relay = await ctx.startRelay();
      await ctx.waitForDelivered(20, 20_000);
      const link = before ? ctx.brokerProxy : ctx.pgProxy;
      ctx.faultStarted(`2× (hold relay→${before ? ctx.broker : 'postgres'} requests 1.5 s, SIGKILL relay, restart)`);
      for (let round = 0; round < 2; round++) {
        // Answers to requests already sent still come back; what the relay sends from now on
        // stays in the proxy and dies with the relay's connection.
        const held = link.fault({ durationMs: 1_500, hold: 'upstream' });
        await ctx.sleep(1_200);
        await relay.kill();
        await held;
        relay = await ctx.startRelay();
        if (round === 0) await ctx.sleep(1_500);
      }
      await ctx.faultEnded();
    },
  };
}
