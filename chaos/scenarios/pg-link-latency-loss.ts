// The relay→PostgreSQL link gets 200 ± 100 ms of latency per chunk, and some connections drop.
import type { Scenario } from '../scenario.js';

export const pgLinkLatencyLoss: Scenario = {
  name: 'pg-link-latency-loss',
  title: 'PostgreSQL link 200 ± 100 ms latency with loss',
  sources: ['polling', 'logical'],
  expected: '0 lost; duplicates only where a connection dropped after an ack',
  allowed: {
    duplicates: 'a dropped database connection between the broker ack and the bookkeeping is a crash for that batch: it is sent again',
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('relay→postgres latency 200 ± 100 ms, 2% of chunks reset their connection, 10 s');
    await ctx.pgProxy.fault({ durationMs: 10_000, latencyMs: 200, jitterMs: 100, lossProbability: 0.02 });
    ctx.note(`relay→postgres link: ${ctx.pgProxy.stats.resets} connection(s) reset so far`);
    await ctx.faultEnded();
  },
};
