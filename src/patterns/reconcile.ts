import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * Reconciliation: which events should exist (the service's own records say so) against which
 * events a broker or a warehouse holds, per contract and time window. This module is the pure
 * core: no I/O, deterministic output for the same input. The readers that feed it are in
 * `reconcile-expected.ts`, `reconcile-kafka.ts` and `reconcile-warehouse.ts`.
 */

/** An event that should exist, as the service's database records it. */
export interface ExpectedEvent {
  /** The CloudEvents id the event was (or should have been) published with. */
  readonly id: string;
  /** The contract id (`orders.order-placed`); give this or `type`. */
  readonly contract?: string;
  /** The CloudEvents type, used as the contract label when `contract` is absent. */
  readonly type?: string;
  /** When the event happened: a `Date`, an RFC 3339 string or epoch milliseconds. */
  readonly time: Date | string | number;
}

/** One copy of an event found in a source (a broker message, a warehouse row, a dead letter). */
export interface ObservedEvent {
  readonly id: string;
  /** The contract id, when the source knows it (Kafka `ce_dataschema`, a contract's table). */
  readonly contract?: string;
  /** The CloudEvents type (`ce_type`, `_event_type`). */
  readonly type?: string;
  /** The event time, when the source has it. */
  readonly time?: Date | string | number | null;
  /** Where this copy is: `partition:offset` on Kafka, the table name in a warehouse. */
  readonly position?: string;
  /** The Kafka topic (or other container) of this copy, shown with `position`. */
  readonly topic?: string;
  /**
   * True for an event the source could not take (the warehouse's load dead-letter table): it is
   * reported as dead-lettered and does not count as observed, so an expected one is also missing.
   */
  readonly deadLettered?: boolean;
}

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  /**
   * Group by time windows of this size: `30s`, `5m`, `1h`, `1d`, or milliseconds. Windows are
   * aligned to the Unix epoch in UTC (so `1d` windows start at midnight UTC) and half-open:
   * an event exactly at a window's start belongs to that window. Default: one group per contract.
   */
  readonly window?: string | number;
  /** Only events at or after this time (inclusive). */
  readonly from?: Date | string | number;
  /** Only events before this time (exclusive). */
  readonly to?: Date | string | number;
}

/** The counts of one group (or the totals of a source). */
export interface ReconcileCounts {
  /** Distinct expected ids. */
  readonly expected: number;
  /** Distinct ids present in the source (dead letters excluded), expected or not. */
  readonly observed: number;
  /** Expected ids the source does not have (a dead-lettered one included: it was not loaded). */
  readonly missing: number;
  /** Ids present more than once in the source, expected or not. */
  readonly duplicated: number;
  /** Ids present (or dead-lettered) in the source that were not expected. */
  readonly unexpected: number;
  /** Ids in the source's dead-letter store. */
  readonly deadLettered: number;
}

/** A time window, as ISO 8601 instants: `[start, end)`. */
export interface ReconcileWindow {
  readonly start: string;
  readonly end: string;
}

/** The findings for one contract and window in one source. Id lists are complete and sorted. */
export interface ReconcileGroup {
  /** The contract label: the expected events' `contract` (or `type`). */
  readonly contract: string;
  /** The window, or null without `window` (and for an unexpected event that has no time). */
  readonly window: ReconcileWindow | null;
  readonly counts: ReconcileCounts;
  readonly missing: readonly string[];
  readonly duplicated: readonly string[];
  readonly unexpected: readonly string[];
  readonly deadLettered: readonly string[];
  /** For each duplicated id, where its copies are (`topic@position` or `position`), in input order. */
  readonly duplicatePositions: Readonly<Record<string, readonly string[]>>;
}

/** The findings for one source (e.g. `kafka`, `warehouse`). */
export interface SourceReconciliation {
  readonly source: string;
  /** True when nothing is missing, duplicated or unexpected. */
  readonly ok: boolean;
  readonly totals: ReconcileCounts;
  /** Sorted by contract, then window start; groups without a window come last. */
  readonly groups: readonly ReconcileGroup[];
}

/** What {@link reconcile} returns; plain JSON data. */
export interface ReconcileReport {
  /** True when every source is ok. */
  readonly ok: boolean;
  /** The window option as given (`1h`), or null. */
  readonly window: string | null;
  /** The `from` bound as ISO 8601, or null. */
  readonly from: string | null;
  /** The `to` bound as ISO 8601, or null. */
  readonly to: string | null;
  /** Distinct expected ids within the bounds. */
  readonly expected: number;
  /**
   * Ids the expected input listed more than once (the first listing counts). Informational: it
   * points at the query, not at delivery, so it does not make the report fail.
   */
  readonly expectedDuplicated: readonly string[];
  /** One entry per source, in the order the `observed` object lists them. */
  readonly sources: readonly SourceReconciliation[];
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a window size (`500ms`, `30s`, `5m`, `1h`, `1d`, or a number of milliseconds) into
 * milliseconds. Throws `CONFIG_INVALID` naming the option `window` for anything else.
 */
export function parseWindow(window: string | number): number {
  const match = typeof window === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(window.trim()) : null;
  const ms = typeof window === 'number' ? window : match ? Number(match[1]) * UNITS[match[2]!]! : NaN;
  if (!(Number.isSafeInteger(ms) && ms > 0)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'window' must be a duration like 30s, 5m, 1h or 1d, got '${String(window).slice(0, 40)}'`,
      { details: { option: 'window' } },
    );
  }
  return ms;
}

/** Epoch milliseconds of a time value, or undefined when it is missing or not a time. */
export function timeOf(value: Date | string | number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function bound(value: Date | string | number | undefined, option: 'from' | 'to'): number | undefined {
  if (value === undefined) return undefined;
  const ms = timeOf(value);
  if (ms === undefined) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option '${option}' must be an ISO 8601 time such as 2026-01-31T00:00:00Z`, {
      details: { option },
    });
  }
  return ms;
}

interface Expected {
  readonly label: string;
  readonly time: number;
  readonly inRange: boolean;
}

interface Seen {
  /** Copies that count as present (not dead-lettered). */
  present: number;
  deadLettered: boolean;
  positions: string[];
  /** The first copy, whose contract, type and time place an unexpected event. */
  readonly first: ObservedEvent;
}

interface GroupAcc {
  readonly contract: string;
  readonly start: number | null;
  readonly expected: Set<string>;
  readonly observed: Set<string>;
  readonly missing: string[];
  readonly duplicated: string[];
  readonly unexpected: string[];
  readonly deadLettered: string[];
  readonly positions: Map<string, string[]>;
}

/**
 * Compares the events that should exist with what each source holds, by event id.
 *
 * Guarantees:
 * - An expected event is counted in the group of its own contract label and its own time, in
 *   every source, so clocks that differ between the database and the broker (`created_at` vs
 *   `ce_time`) cannot move it across a window boundary. An unexpected event is placed by its
 *   first copy: its contract (when that label is one the expected events use), else its type,
 *   else its contract or type or `unknown`; its window by its own time.
 * - `from`/`to` select expected events by their time. A copy of an expected event outside the
 *   bounds is ignored, never called unexpected. An unexpected event is kept when its time is
 *   within the bounds, or when it has no time at all (it cannot be shown to be outside them;
 *   such events go in a group whose window is null).
 * - Missing, duplicated, unexpected and dead-lettered are exact sets of ids, sorted by code unit,
 *   as are groups (by contract, then window); the same input gives the same report.
 * - Throws `CONFIG_INVALID` for a bad option, and for an expected event without an id, a label
 *   or a valid time (naming the id, never other values).
 */
export function reconcile(
  expected: Iterable<ExpectedEvent>,
  observed: Readonly<Record<string, Iterable<ObservedEvent>>>,
  options: ReconcileOptions = {},
): ReconcileReport {
  const size = options.window === undefined ? undefined : parseWindow(options.window);
  const from = bound(options.from, 'from');
  const to = bound(options.to, 'to');
  const inRange = (t: number): boolean => (from === undefined || t >= from) && (to === undefined || t < to);
  const windowStart = (t: number | undefined): number | null =>
    size === undefined || t === undefined ? null : Math.floor(t / size) * size;

  const wanted = new Map<string, Expected>();
  const twice = new Set<string>();
  const labels = new Set<string>();
  let byContract = 0;
  let byType = 0;
  for (const e of expected) {
    if (typeof e.id !== 'string' || e.id === '') throw badExpected('an expected event has no id');
    const label = e.contract || e.type;
    if (!label) throw badExpected(`expected event '${e.id}' has neither a contract nor a type`);
    const time = timeOf(e.time);
    if (time === undefined) throw badExpected(`expected event '${e.id}' has no valid time`);
    if (wanted.has(e.id)) {
      twice.add(e.id);
      continue;
    }
    if (e.contract) byContract++;
    else byType++;
    wanted.set(e.id, { label, time, inRange: inRange(time) });
    labels.add(label);
  }
  // When the expected events name types rather than contracts, unexpected ones are labelled the
  // same way, so both end up in the same rows.
  const preferType = byType > byContract;
  const labelOf = (o: ObservedEvent): string => {
    const candidates = preferType ? [o.type, o.contract] : [o.contract, o.type];
    return candidates.find((c): c is string => !!c && labels.has(c)) ?? candidates.find((c): c is string => !!c) ?? 'unknown';
  };

  const sources: SourceReconciliation[] = [];
  for (const [source, events] of Object.entries(observed)) {
    const seen = new Map<string, Seen>();
    for (const o of events) {
      let s = seen.get(o.id);
      if (!s) seen.set(o.id, (s = { present: 0, deadLettered: false, positions: [], first: o }));
      if (o.deadLettered) s.deadLettered = true;
      else {
        s.present++;
        if (o.position !== undefined) s.positions.push(o.topic === undefined ? o.position : `${o.topic}@${o.position}`);
      }
    }
    const groups = new Map<string, GroupAcc>();
    const group = (contract: string, start: number | null): GroupAcc => {
      const key = `${contract}\u0000${start ?? ''}`;
      let g = groups.get(key);
      if (!g) {
        g = {
          contract,
          start,
          expected: new Set(),
          observed: new Set(),
          missing: [],
          duplicated: [],
          unexpected: [],
          deadLettered: [],
          positions: new Map(),
        };
        groups.set(key, g);
      }
      return g;
    };
    const note = (g: GroupAcc, id: string, s: Seen | undefined): void => {
      if (!s) return;
      if (s.present > 0) g.observed.add(id);
      if (s.present > 1) {
        g.duplicated.push(id);
        g.positions.set(id, s.positions);
      }
      if (s.deadLettered) g.deadLettered.push(id);
    };
    for (const [id, e] of wanted) {
      if (!e.inRange) continue;
      const g = group(e.label, windowStart(e.time));
      const s = seen.get(id);
      g.expected.add(id);
      note(g, id, s);
      if (!s || s.present === 0) g.missing.push(id);
    }
    for (const [id, s] of seen) {
      if (wanted.has(id)) continue;
      const time = timeOf(s.first.time);
      if (time !== undefined && !inRange(time)) continue;
      const g = group(labelOf(s.first), windowStart(time));
      note(g, id, s);
      g.unexpected.push(id);
    }
    const list = [...groups.values()].sort(compareGroups).map((g) => finish(g, size));
    const totals = sum(list.map((g) => g.counts));
    sources.push({ source, ok: totals.missing + totals.duplicated + totals.unexpected === 0, totals, groups: list });
  }
  return {
    ok: sources.every((s) => s.ok),
    window: options.window === undefined ? null : String(options.window),
    from: from === undefined ? null : new Date(from).toISOString(),
    to: to === undefined ? null : new Date(to).toISOString(),
    expected: [...wanted.values()].filter((e) => e.inRange).length,
    expectedDuplicated: sorted(twice),
    sources,
  };
}

function badExpected(message: string): HeraldError {
  return new HeraldError(ErrorCodes.CONFIG_INVALID, `${message}; check the expected-events query`, { details: { option: 'expected' } });
}

/** Code-unit order: the same on every machine, unlike `localeCompare`. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort(byCodeUnit);
}

function compareGroups(a: GroupAcc, b: GroupAcc): number {
  if (a.contract !== b.contract) return byCodeUnit(a.contract, b.contract);
  if (a.start === b.start) return 0;
  if (a.start === null) return 1;
  if (b.start === null) return -1;
  return a.start - b.start;
}

function finish(g: GroupAcc, size: number | undefined): ReconcileGroup {
  const duplicated = sorted(g.duplicated);
  return {
    contract: g.contract,
    window:
      g.start === null || size === undefined
        ? null
        : { start: new Date(g.start).toISOString(), end: new Date(g.start + size).toISOString() },
    counts: {
      expected: g.expected.size,
      observed: g.observed.size,
      missing: g.missing.length,
      duplicated: duplicated.length,
      unexpected: g.unexpected.length,
      deadLettered: g.deadLettered.length,
    },
    missing: sorted(g.missing),
    duplicated,
    unexpected: sorted(g.unexpected),
    deadLettered: sorted(g.deadLettered),
    duplicatePositions: Object.fromEntries(duplicated.map((id) => [id, g.positions.get(id) ?? []])),
  };
}

function sum(counts: readonly ReconcileCounts[]): ReconcileCounts {
  const total = { expected: 0, observed: 0, missing: 0, duplicated: 0, unexpected: 0, deadLettered: 0 };
  for (const c of counts) for (const k of Object.keys(total) as (keyof ReconcileCounts)[]) total[k] += c[k];
  return total;
}
