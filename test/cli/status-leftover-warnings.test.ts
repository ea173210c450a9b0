import { describe, expect, it } from 'vitest';
import { statusWarnings } from '../../src/cli/status-warnings.js';
import type { OutboxStatus } from '../../src/postgres/migrate.js';
import type { SlotStatus } from '../../src/postgres/logical-setup.js';

const slot: SlotStatus = {
  slot: 'herald_relay',
  exists: true,
  active: true,
  walStatus: 'reserved',
  lagBytes: 100,
  lagSeconds: 0,
  lastDeliverySeconds: 1,
  safeWalBytes: null,
  parked: 0,
  deliveredNotDeleted: 0,
};
const status: OutboxStatus = { pending: 19, oldestPendingSeconds: 143, deadLettered: 0, relays: 0, topics: [], slot };

describe('statusWarnings, rows delivered but not deleted', () => {
  it('warns about outbox rows the slot has passed, with what to do, even while the backlog is young', () => {
    expect(statusWarnings({ ...status, slot: { ...slot, deliveredNotDeleted: 19 } })).toEqual([
      '19 outbox row(s) were delivered but not deleted: slot herald_relay is past their transactions, so no relay will send or delete them; ' +
        "check that their events reached the broker, then delete them (README, 'delivered but not deleted')",
    ]);
  });

  it('has nothing to say about pending rows the slot has not passed yet', () => {
    expect(statusWarnings(status)).toEqual([]);
    expect(statusWarnings({ ...status, slot: { ...slot, deliveredNotDeleted: undefined } })).toEqual([]);
  });

  it('says what else keeps an old event when a relay streams the slot', () => {
    const old = { ...status, oldestPendingSeconds: 400 };
    expect(statusWarnings(old)).toEqual([
      'the oldest pending event waits for 6m 40s (threshold 5m 0s) while a relay streams slot herald_relay: ' +
        'the relay is behind or cannot reach the broker (see its log), or the event was delivered but not deleted',
    ]);
    expect(statusWarnings({ ...old, slot: { ...slot, active: false } })).toEqual([
      'the oldest pending event waits for 6m 40s (threshold 5m 0s); is a relay running and reaching the broker?',
    ]);
  });
});
