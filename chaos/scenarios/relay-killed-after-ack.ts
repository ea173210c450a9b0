// The relay is SIGKILLed after the broker acknowledged a batch and before it recorded the
// delivery: its PostgreSQL link holds what it sends (the mark-delivered statement or, for the
// logical source, the slot confirmation), so the ack is in and the bookkeeping is not.
import type { Scenario } from '../scenario.js';

export const relayKilledAfterAck: Scenario = {
  name: 'relay-killed-after-ack',
  title: 'relay SIGKILL after broker ack, before bookkeeping',
  sources: ['polling', 'logical'],
  quick: ['polling'],
  expected: '0 lost; duplicates of the unrecorded batch',
  allowed: {
    duplicates: 'the crash fell between the broker ack and the bookkeeping; the restarted relay sends that batch again (same ce_id)',
  },
  async run(ctx) {
    let relay = await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('2× (hold relay→postgres requests 1.5 s, SIGKILL relay, restart)');
    for (let round = 0; round < 2; round++) {
      // Whatever the relay sends to PostgreSQL from now on stays in the proxy: a batch it has
      // already claimed (or decoded) is published and acked, but never recorded.
      const held = ctx.pgProxy.fault({ durationMs: 1_500, hold: 'upstream' });
      await ctx.sleep(1_200);
      await relay.kill();
      await held;
      relay = await ctx.startRelay();
      if (round === 0) await ctx.sleep(1_500);
    }
    await ctx.faultEnded();
  },
};
