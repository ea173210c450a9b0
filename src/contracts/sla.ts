import type { SlaProperty } from './contract.js';

/** Seconds per ODCS SLA unit, in the spellings ODCS examples use (`d`, `day`, `days`, …). */
const SECONDS: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  sec: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  hours: 3600,
  d: 86_400,
  day: 86_400,
  days: 86_400,
  w: 604_800,
  week: 604_800,
  weeks: 604_800,
};

/** The SLA properties that bound how old the newest loaded data may be. */
export const AgeSlaProperties = ['freshness', 'latency'] as const;

/**
 * The time an SLA property allows, in seconds: its `value` (a number, or numeric text) times its
 * `unit` (case-insensitive; days when absent, as ODCS examples assume). Returns a reason instead
 * when the unit is unknown or the value is not a number, so callers report the SLA rather than
 * guess at it.
 */
export function slaSeconds(s: SlaProperty): number | { readonly invalid: string } {
  const per = SECONDS[(s.unit ?? 'd').toLowerCase()];
  if (per === undefined) return { invalid: `slaProperties ${s.property} has unit '${String(s.unit)}'; use s, m, h or d` };
  const value = typeof s.value === 'string' && s.value.trim() !== '' ? Number(s.value) : s.value;
  if (typeof value !== 'number' || !Number.isFinite(value))
    return { invalid: `slaProperties ${s.property} needs a numeric value, got ${JSON.stringify(s.value)}` };
  return value * per;
}
