// One writer keeps every 4th transaction open 1.5 s after appending, holding a lower outbox id
// while the other writers commit higher ones: commits out of id order, and no other fault.
import type { Scenario } from '../scenario.js';

export const writersOutOfIdOrder: Scenario = {
  name: 'writers-out-of-id-order',
  title: 'writers committing out of id order (long transaction)',
  sources: ['polling', 'logical'],
  expected: '0 lost, 0 duplicates, 0 reorders',
  workload: { longTxHoldMs: 1_500, longTxEvery: 4 },
  async run(ctx) {
    await ctx.startRelay();
    ctx.faultStarted('writer 0 holds every 4th transaction open 1.5 s after its append, 10 s');
    await ctx.sleep(10_000);
    await ctx.faultEnded();
  },
};
