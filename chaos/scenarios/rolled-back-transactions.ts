// Half the transactions append events and then roll back; none of those may ever be delivered.
import type { Scenario } from '../scenario.js';

export const rolledBackTransactions: Scenario = {
  name: 'rolled-back-transactions',
  title: 'rolled-back transactions (50%)',
  sources: ['polling', 'logical'],
  expected: '0 lost, 0 rolled-back delivered',
  workload: { rollbackRatio: 0.5 },
  async run(ctx) {
    await ctx.startRelay();
    ctx.faultStarted('half of all transactions roll back, 8 s');
    await ctx.sleep(8_000);
    await ctx.faultEnded();
  },
};
