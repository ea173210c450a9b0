import type { SlotStatus } from '../postgres/logical-setup.js';
import type { OutboxStatus } from '../postgres/migrate.js';
import { bytes, duration } from './output.js';

/** The thresholds of `herald status`; defaults in {@link statusWarningDefaults}. */
export interface StatusThresholds {
  /** Warn when the slot keeps more unconfirmed WAL than this many bytes. */
  readonly maxLagBytes?: number;
  /** Warn when the oldest pending event is older than this many seconds. */
  readonly maxAgeSeconds?: number;
}

/** The defaults of {@link StatusThresholds}, in one table: 256 MiB of WAL, five minutes of backlog. */
export const statusWarningDefaults = { maxLagBytes: 256 * 1024 * 1024, maxAgeSeconds: 300 } as const;

/**
 * What an operator must look at, one line each, in a fixed order: dead letters (any: each is an
 * event that did not reach its consumers), a backlog whose oldest event is older than
 * `maxAgeSeconds` (the relay is down, stuck or too slow; or, while a relay streams the slot,
 * an event it cannot get past or a row it delivered and did not delete), then the slot's
 * warnings, among them outbox rows the slot has passed (delivered but not deleted). Pure: the
 * same status always gives the same warnings, so `herald status` can exit 1 on any of them.
 */
export function statusWarnings(status: OutboxStatus, thresholds: StatusThresholds = {}): string[] {
  const maxAge = thresholds.maxAgeSeconds ?? statusWarningDefaults.maxAgeSeconds;
  const warnings: string[] = [];
  if (status.deadLettered > 0) {
    const topics = status.topics.filter((t) => t.deadLettered > 0).map((t) => `'${t.topic}'`);
    warnings.push(
      `${status.deadLettered} dead-lettered event(s) in ${topics.join(', ') || 'the dead-letter table'}; see 'herald dead-letters', requeue with --requeue`,
    );
  }
  if (status.oldestPendingSeconds !== null && status.oldestPendingSeconds > maxAge) {
    const waits = `the oldest pending event waits for ${duration(status.oldestPendingSeconds)} (threshold ${duration(maxAge)})`;
    // A live relay rules out the usual cause (none running), so say what else keeps an event.
    warnings.push(
      status.slot?.active === true
        ? `${waits} while a relay streams slot ${status.slot.slot}: the relay is behind or cannot reach the broker (see its log), or the event was delivered but not deleted`
        : `${waits}; is a relay running and reaching the broker?`,
    );
  }
  if (status.slot) warnings.push(...slotWarnings(status.slot, thresholds.maxLagBytes ?? statusWarningDefaults.maxLagBytes));
  return warnings;
}

/**
 * The slot's warnings: WAL about to be (or already) removed, outbox rows the slot has passed
 * (delivered but not deleted), lagging past the threshold.
 */
export function slotWarnings(s: SlotStatus, maxLagBytes: number): string[] {
  const warnings: string[] = [];
  if (s.walStatus === 'lost') {
    warnings.push(`slot ${s.slot} was invalidated; run 'herald migrate --source logical --recreate-slot'`);
  } else if (s.walStatus === 'unreserved') {
    warnings.push(`slot ${s.slot} needs WAL that PostgreSQL may remove at the next checkpoint; the relay must catch up now`);
  }
  if (s.deliveredNotDeleted !== undefined && s.deliveredNotDeleted > 0) {
    warnings.push(
      `${s.deliveredNotDeleted} outbox row(s) were delivered but not deleted: slot ${s.slot} is past their transactions, so no relay will send or delete them; ` +
        `check that their events reached the broker, then delete them (README, 'delivered but not deleted')`,
    );
  }
  if (s.lagBytes !== null && s.lagBytes > maxLagBytes) {
    warnings.push(
      `slot ${s.slot} keeps ${bytes(s.lagBytes)} of WAL unconfirmed (threshold ${bytes(maxLagBytes)})${s.active ? '' : '; no relay is streaming it'}`,
    );
  }
  return warnings;
}
