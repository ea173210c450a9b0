// Poison events land in the outbox beside the writers' traffic, inserted with plain SQL as a
// writer that bypasses Herald's append checks would: one 2 MB event (over the broker's 1 MB
// message limit) and one routed to a topic name Kafka refuses. Each must go to the dead-letter
// table with its error after the broker refused it, and every other event must flow: nothing
// lost, nothing sent twice (the refusal of one event must not make the relay re-send the rest
// of its batch).
import type { Scenario } from '../scenario.js';
import { waitUntil } from '../util.js';

export const poisonEvent: Scenario = {
  name: 'poison-event',
  title: 'poison events (2 MB over the broker limit; a topic Kafka refuses)',
  sources: ['polling', 'logical'],
  expected: 'both dead-lettered with their error; others flow: 0 lost, 0 duplicates',
  async run(ctx) {
    await ctx.startRelay();
    await ctx.waitForDelivered(20, 20_000);
    ctx.faultStarted('INSERT a 2 MB event and an event for the topic "not a topic!" into the outbox, 3 s of traffic around them');
    const db = await ctx.pg.client();
    const ids: string[] = [];
    try {
      const insert = async (topic: string, key: string, data: string): Promise<void> => {
        const { rows } = await db.query<{ event_id: string }>(
          `INSERT INTO ${ctx.schema}.outbox (event_id, topic, partition_key, type, source, time, data)
           VALUES (gen_random_uuid(), $1, $2, 'chaos.poison.v1', '/herald-chaos/poison', now(), ${data}) RETURNING event_id::text`,
          [topic, key],
        );
        ids.push(rows[0]!.event_id);
      };
      await insert(ctx.topic, 'poison-oversized', `json_build_object('blob', repeat('x', 2000000))`);
      await ctx.sleep(1_000);
      await insert('not a topic!', 'poison-topic', `json_build_object('seq', 0)`);
      await ctx.sleep(2_000);
      await ctx.faultEnded();
      let dead: { event_id: string; last_error: string }[] = [];
      await waitUntil(
        async () => {
          dead = (
            await db.query<{ event_id: string; last_error: string }>(
              `SELECT event_id::text, last_error FROM ${ctx.schema}.dead_letter WHERE event_id = ANY($1::uuid[])`,
              [ids],
            )
          ).rows;
          return dead.length === ids.length;
        },
        20_000,
        500,
      );
      for (const d of dead)
        ctx.note(`dead-lettered ${d.event_id === ids[0] ? 'the 2 MB event' : 'the bad-topic event'}: ${d.last_error.slice(0, 140)}`);
      if (dead.length !== ids.length)
        throw new Error(`${ids.length - dead.length} poison event(s) not in the dead-letter table after 20 s`);
    } finally {
      await db.end();
    }
  },
};
