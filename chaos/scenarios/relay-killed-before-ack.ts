// The relay is SIGKILLed while its batch is on the way to the broker: the relay→Kafka link holds
// what the relay sends, so the produce request never reaches the broker before the kill.
import type { Scenario } from '../scenario.js';

export const relayKilledBeforeAck: Scenario = {
  name: 'relay-killed-before-ack',
  title: 'relay SIGKILL before the broker ack',
  sources: ['polling', 'logical'],
  expected: '0 lost, 0 duplicates',
  async run(ctx) {
    let relay = await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('2× (hold relay→kafka requests, SIGKILL relay, restart)');
    for (let round = 0; round < 2; round++) {
      // Answers to requests already sent still come back (and get recorded); new produce
      // requests stay in the proxy and die with the relay's connection.
      const held = ctx.kafkaProxy.fault({ durationMs: 1_500, hold: 'upstream' });
      await ctx.sleep(1_200);
      await relay.kill();
      await held;
      relay = await ctx.startRelay();
      if (round === 0) await ctx.sleep(1_500);
    }
    await ctx.faultEnded();
  },
};
