// PostgreSQL is stopped with `pg_ctl -m immediate` (every backend killed, crash recovery at the
// next start) while writers commit and the relay delivers, and comes back 2 s later.
import type { Scenario } from '../scenario.js';

export const pgImmediateRestart: Scenario = {
  name: 'pg-immediate-restart',
  title: 'PostgreSQL immediate restart (crash recovery)',
  sources: ['polling', 'logical'],
  brokers: ['kafka', 'rabbitmq'],
  quick: ['logical'],
  expected: '0 lost; duplicates of the batch in flight',
  allowed: {
    duplicates: 'the batch acked by the broker while PostgreSQL went down was not recorded; it is sent again',
  },
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('pg_ctl stop -m immediate, down 2 s, start');
    await ctx.pg.restartImmediate(2_000);
    await ctx.faultEnded();
  },
};
