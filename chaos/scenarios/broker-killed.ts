// The Kafka broker is SIGKILLed mid-batch and started again on the same data (log recovery).
import type { Scenario } from '../scenario.js';

export const brokerKilled: Scenario = {
  name: 'broker-killed',
  title: 'broker SIGKILL mid-batch, restart on its data',
  sources: ['polling', 'logical'],
  expected: '0 lost; duplicates of the unanswered batch',
  allowed: {
    duplicates: 'the batch the broker appended just before it died got no answer; the relay sends it again',
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('SIGKILL the broker, restart it on the same data');
    await ctx.kafka.kill();
    const t = Date.now();
    await ctx.kafka.start();
    ctx.note(`broker back after ${((Date.now() - t) / 1000).toFixed(1)} s of log recovery`);
    await ctx.faultEnded();
  },
};
