// The logical relay's replication slot is invalidated by PostgreSQL: the relay is frozen while
// max_slot_wal_keep_size is lowered to 16 MB and other tables write WAL past it. README
// ("Set max_slot_wal_keep_size") documents what follows: the relay stops with SLOT_INVALIDATED
// naming the slot and 'herald migrate --source logical --recreate-slot'; that command recreates
// the slot and moves the undelivered events of the outbox table to the relay's backlog, so a
// relay started after it loses nothing. This row runs exactly that.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI } from '../relay-process.js';
import type { Scenario } from '../scenario.js';

const run = promisify(execFile);

export const slotInvalidated: Scenario = {
  name: 'slot-invalidated',
  title: 'replication slot invalidated (max_slot_wal_keep_size), recreated',
  sources: ['logical'],
  expected: 'relay stops with SLOT_INVALIDATED naming the slot and the fix; after --recreate-slot 0 lost',
  allowed: {
    duplicates:
      'events published just before the freeze whose rows were not yet deleted from the outbox table are in the recreated slot’s snapshot backlog: sent again (same ce_id)',
  },
  async run(ctx) {
    const slot = `${ctx.schema}_relay`;
    const a = await ctx.startRelay({ name: 'relay-a' });
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('SIGSTOP relay-a; max_slot_wal_keep_size 16MB; write WAL elsewhere until the slot is lost; SIGCONT');
    a.signal('SIGSTOP');
    const db = await ctx.pg.client();
    let status = '';
    try {
      await db.query("ALTER SYSTEM SET max_slot_wal_keep_size = '16MB'");
      await db.query('SELECT pg_reload_conf()');
      const filler = `${ctx.schema}_wal_filler`;
      await db.query(`CREATE TABLE ${filler} (id int, v text)`);
      for (let round = 0; round < 8 && status !== 'lost'; round++) {
        await db.query(`INSERT INTO ${filler} SELECT g, md5(g::text) FROM generate_series(1, 200000) g`);
        await db.query('SELECT pg_switch_wal()');
        await db.query('CHECKPOINT');
        status = String((await db.query('SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1', [slot])).rows[0]?.wal_status);
      }
      await db.query(`DROP TABLE ${filler}`);
      ctx.note(`slot ${slot}: wal_status ${status}`);
    } finally {
      await db.query('ALTER SYSTEM RESET max_slot_wal_keep_size').catch(() => undefined);
      await db.query('SELECT pg_reload_conf()').catch(() => undefined);
      await db.end();
    }
    if (status !== 'lost') throw new Error(`slot ${slot} was not invalidated (wal_status ${status})`);
    a.signal('SIGCONT');
    const stopped = await Promise.race([a.exited(), ctx.sleep(20_000).then(() => 'still running')]);
    const error = a.lines.find((l) => l.includes('was invalidated')) ?? '';
    const named = error.includes(slot) && error.includes('--recreate-slot');
    ctx.note(
      `relay-a after SIGCONT: ${stopped === 'still running' ? 'still running' : `exited ${String(stopped)}`}; error names the slot and the fix: ${named}`,
    );
    if (stopped === 'still running') throw new Error('relay-a kept running on an invalidated slot');
    if (!named) throw new Error(`relay-a's error does not name the slot and --recreate-slot: ${a.lines.slice(-3).join(' / ')}`);
    const migrate = await run(process.execPath, [
      CLI,
      'migrate',
      '--source',
      'logical',
      '--recreate-slot',
      '--database',
      ctx.pg.url,
      '--schema',
      ctx.schema,
      '--json',
    ]);
    ctx.note(`herald migrate --recreate-slot: ${migrate.stdout.trim().split('\n').at(-1)?.slice(0, 160) ?? ''}`);
    await ctx.startRelay({ name: 'relay-b' });
    await ctx.faultEnded();
  },
};
