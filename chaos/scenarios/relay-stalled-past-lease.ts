// Two relays; one is frozen (SIGSTOP) for longer than its lease, so the other takes its keys
// over, then woken (SIGCONT) with the batch it held when it froze. Without fencing it may
// publish that batch late: after newer events of the same keys.
import type { Scenario } from '../scenario.js';

const LEASE_MS = 3_000;

export const relayStalledPastLease: Scenario = {
  name: 'relay-stalled-past-lease',
  title: 'relay SIGSTOP past its lease, then SIGCONT (2 relays)',
  sources: ['polling', 'logical'],
  brokers: ['kafka', 'rabbitmq'],
  expected: '0 lost, 0 reorders (Kafka fences the stale relay)',
  allowed: (_source, broker) =>
    broker === 'rabbitmq'
      ? {
          // RabbitMQ has no producer fencing: the lease epoch stops the stale relay from
          // recording or deleting, not from publishing the one batch it held when it froze.
          // No reorder allowance: the relay that took over delivers from the oldest undelivered
          // event, so a late batch can only repeat events already delivered (duplicates).
          duplicates:
            'no broker-side fencing on RabbitMQ: a batch held across the stall is published once more, late (after newer events of its keys), with the same ce-id; consumers dedupe by ce-id',
        }
      : {
          // Kafka fences the stale producer (lease epochs, transactional ids), so no reorder is
          // allowed. Logical: the relay that takes the slot over streams from its confirmed
          // position, so the batch the frozen relay published but had not recorded comes again.
          duplicates:
            'the batch the frozen relay published but had not recorded is sent again by the relay that took over (logical: from the slot\'s confirmed position), in order',
        },
  workload: { txPerSecond: 30 },
  async run(ctx) {
    const args = ctx.source === 'polling' ? ['--lease', String(LEASE_MS)] : [];
    const a = await ctx.startRelay({ name: 'relay-a', args });
    const b = await ctx.startRelay({ name: 'relay-b', args });
    await ctx.waitForDelivered(30, 20_000);
    // The logical source: relay-b waits for the slot; PostgreSQL frees it once relay-a's
    // walsender times out (wal_sender_timeout 5 s on the private cluster).
    const stallMs = ctx.source === 'polling' ? LEASE_MS * 2 + 1_000 : 9_000;
    ctx.faultStarted(
      `3× (hold postgres answers 0.4 s, SIGSTOP relay-a inside it for ${stallMs / 1000} s (lease ${LEASE_MS / 1000} s), SIGCONT)`,
    );
    for (let round = 0; round < 3; round++) {
      // Answers relay-a waits for (a claim, decoded changes) are held, then land in its socket
      // while it is frozen: it wakes with a batch it read before its lease moved on.
      const held = ctx.pgProxy.fault({ durationMs: 400, hold: 'downstream' });
      await ctx.sleep(200);
      a.signal('SIGSTOP');
      await held;
      await ctx.sleep(stallMs);
      a.signal('SIGCONT');
      await ctx.sleep(2_000);
    }
    ctx.note(`after SIGCONT: relay-a ${a.running ? 'running' : 'exited'}, relay-b ${b.running ? 'running' : 'exited'}`);
    await ctx.faultEnded();
  },
};
