// Turns the checker's counts into a row's verdict: never any loss, never a delivered rollback,
// and duplicates or reorders only where the row says why they are allowed.
import type { CheckResult } from './checker.js';
import type { Allowances } from './scenario.js';

/** A row's verdict: `pass` (clean), `allowed` (violations with a stated reason), `fail`. */
export interface Verdict {
  readonly verdict: 'pass' | 'allowed' | 'fail';
  readonly reason: string;
}

/** Judges one checked run against its allowances; the reason names every violation found. */
export function judge(result: CheckResult, allowed: Allowances): Verdict {
  const failures: string[] = [];
  const excused: string[] = [];
  if (result.lost.length > 0) failures.push(`${result.lost.length} committed event(s) lost`);
  if (result.rolledBackDelivered.length > 0) failures.push(`${result.rolledBackDelivered.length} rolled-back event(s) delivered`);
  if (result.unknown > 0) failures.push(`${result.unknown} message(s) no writer wrote`);
  if (result.duplicates > 0) {
    if (allowed.duplicates) excused.push(`duplicates: ${allowed.duplicates}`);
    else failures.push(`${result.duplicates} duplicate(s) without a crash or an ambiguous ack`);
  }
  if (result.reorders.length > 0) {
    if (allowed.reorders) excused.push(`reorders: ${allowed.reorders}`);
    else failures.push(`${result.reorders.length} per-key order violation(s)`);
  }
  if (failures.length > 0) return { verdict: 'fail', reason: [...failures, ...excused].join('; ') };
  if (excused.length > 0) return { verdict: 'allowed', reason: excused.join('; ') };
  return { verdict: 'pass', reason: '' };
}
