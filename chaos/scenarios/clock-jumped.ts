// The wall clock of one of two relays jumps by ±10 min mid-run and stays there for 8 s (longer
// than the 5 s lease), then comes back. Leases are timed by PostgreSQL's now() and, inside the
// relay, by the monotonic clock (performance.now in the lease book), so neither relay may think
// it holds a lease it lost, or lose one it holds: no overlap, so no duplicates and no reorders.
import { FakeClock } from '../faketime.js';
import type { Scenario } from '../scenario.js';

const JUMP_MS = 8_000;

/** The row for a jump of `offset` (libfaketime syntax, `+10m` or `-10m`). */
export function clockJumped(offset: '+10m' | '-10m'): Scenario {
  const direction = offset.startsWith('+') ? 'forward' : 'back';
  return {
    name: `clock-jumped-${direction}`,
    title: `relay wall clock jumped ${offset.replace('m', ' min')} for 8 s (2 relays)`,
    sources: ['polling', 'logical'],
    expected: '0 lost, 0 duplicates, 0 reorders',
    async run(ctx) {
      const clock = new FakeClock();
      const a = await ctx.startRelay({ name: 'relay-a', env: clock.env });
      const b = await ctx.startRelay({ name: 'relay-b' });
      await ctx.waitForDelivered(30, 20_000);
      ctx.faultStarted(`relay-a wall clock ${offset} for ${JUMP_MS / 1000} s, then back`);
      clock.set(offset);
      await ctx.sleep(JUMP_MS);
      clock.set('+0');
      await ctx.sleep(2_000);
      ctx.note(
        `relay-a ${a.running ? 'running' : 'exited'}, relay-b ${b.running ? 'running' : 'exited'}; relay-a lease losses logged: ${a.count('lease')}`,
      );
      await ctx.faultEnded();
    },
  };
}
