// The relay's PostgreSQL password is changed (ALTER ROLE) while it runs, and its connections are
// dropped so that it must log in again: refused for 6 s, then the old password is restored. The
// relay must pause with backoff and a masked message, not exit, and deliver everything after.
import type { Scenario } from '../scenario.js';

const REFUSED_MS = 6_000;

export const credentialsRotated: Scenario = {
  name: 'credentials-rotated',
  title: 'PostgreSQL password rotated under the relay 6 s, then restored',
  sources: ['polling', 'logical'],
  expected: '0 lost; relay pauses (no exit), resumes after restore',
  allowed: {
    duplicates: 'dropping the connections is a crash for the batch between the broker ack and the bookkeeping: it is sent again',
  },
  async run(ctx) {
    // A role per run (the schema is unique), so a run never sees another run's password.
    const user = `${ctx.schema}_login`.slice(0, 60);
    const password = 'first-s3cret-canary';
    await ctx.pg.createPasswordRole(user, password);
    const relay = await ctx.startRelay({ login: { user, password } });
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted(`ALTER ROLE ${user} PASSWORD (new), drop relay→postgres connections, ${REFUSED_MS / 1000} s, restore`);
    await ctx.pg.setPassword(user, 'rotated-s3cret-canary');
    ctx.pgProxy.resetAll();
    await ctx.sleep(REFUSED_MS);
    const refused = relay.count('credentials rotated');
    await ctx.pg.setPassword(user, password);
    ctx.note(
      `relay ${relay.running ? 'still running' : 'EXITED'} while refused; ${refused} log line(s) saying the credentials were rotated`,
    );
    const leaked = relay.lines.filter((l) => l.includes('s3cret-canary')).length;
    ctx.note(`log lines containing a password: ${leaked}`);
    if (!relay.running) throw new Error(`the relay exited while its login was refused: ${relay.lines.slice(-3).join(' / ')}`);
    if (refused === 0) throw new Error('the relay never logged that its login was refused');
    if (leaked > 0) throw new Error('a password appeared in the relay log');
    await ctx.faultEnded();
  },
};
