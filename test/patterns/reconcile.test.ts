import { describe, expect, it } from 'vitest';
import { parseWindow, reconcile, type ExpectedEvent, type ObservedEvent } from '../../src/patterns/reconcile.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 31, 10, 0, 0);
const at = (ms: number): string => new Date(ms).toISOString();

/** Expected events: two contracts, three hourly windows, some right at a boundary. */
function fixture(): ExpectedEvent[] {
  return [
    { id: 'a1', contract: 'orders.order-placed', time: at(T0) }, // first instant of 10:00
    { id: 'a2', contract: 'orders.order-placed', time: at(T0 + H - 1) }, // last instant of 10:00
    { id: 'a3', contract: 'orders.order-placed', time: at(T0 + H) }, // first instant of 11:00
    { id: 'a4', contract: 'orders.order-placed', time: new Date(T0 + H + 5) },
    { id: 'a5', contract: 'orders.order-placed', time: T0 + 2 * H + 1 }, // 12:00, as epoch ms
    { id: 'b1', contract: 'payments.captured', time: at(T0 + 10) },
    { id: 'b2', contract: 'payments.captured', time: at(T0 + H - 1) },
    { id: 'b3', contract: 'payments.captured', time: at(T0 + H) },
  ];
}

/** What a broker holds: each as published (ce_time a little after the database's time). */
function copy(id: string, contract: string, ms: number, position: string): ObservedEvent {
  return { id, contract, type: contract, time: at(ms), position, topic: contract };
}

describe('reconcile', () => {
  it('finds exactly the missing, duplicated and unexpected ids per contract and window, with events on window boundaries', () => {
    const observed: ObservedEvent[] = [
      copy('a1', 'orders.order-placed', T0 + 3, '0:0'),
      // a2 is missing; a3 is there twice; a4 is there once.
      copy('a3', 'orders.order-placed', T0 + H + 1, '0:1'),
      copy('a4', 'orders.order-placed', T0 + H + 6, '1:0'),
      copy('a3', 'orders.order-placed', T0 + H + 1, '0:2'),
      copy('a5', 'orders.order-placed', T0 + 2 * H + 2, '1:1'),
      // An event of a rolled-back transaction, at the last instant of the 11:00 window.
      copy('x1', 'orders.order-placed', T0 + 2 * H - 1, '1:2'),
      copy('b1', 'payments.captured', T0 + 11, '0:0'),
      copy('b2', 'payments.captured', T0 + H - 1, '0:1'),
      copy('b2', 'payments.captured', T0 + H - 1, '0:2'),
      copy('b2', 'payments.captured', T0 + H - 1, '0:3'),
      // b3 is missing.
    ];
    const report = reconcile(fixture(), { kafka: observed }, { window: '1h' });
    expect(report.ok).toBe(false);
    expect(report.expected).toBe(8);
    const [kafka] = report.sources;
    expect(kafka!.source).toBe('kafka');
    expect(
      kafka!.groups.map((g) => ({
        contract: g.contract,
        start: g.window?.start,
        counts: g.counts,
        missing: g.missing,
        duplicated: g.duplicated,
        unexpected: g.unexpected,
      })),
    ).toEqual([
      {
        contract: 'orders.order-placed',
        start: '2026-01-31T10:00:00.000Z',
        counts: { expected: 2, observed: 1, missing: 1, duplicated: 0, unexpected: 0, deadLettered: 0 },
        missing: ['a2'],
        duplicated: [],
        unexpected: [],
      },
      {
        contract: 'orders.order-placed',
        start: '2026-01-31T11:00:00.000Z',
        counts: { expected: 2, observed: 3, missing: 0, duplicated: 1, unexpected: 1, deadLettered: 0 },
        missing: [],
        duplicated: ['a3'],
        unexpected: ['x1'],
      },
      {
        contract: 'orders.order-placed',
        start: '2026-01-31T12:00:00.000Z',
        counts: { expected: 1, observed: 1, missing: 0, duplicated: 0, unexpected: 0, deadLettered: 0 },
        missing: [],
        duplicated: [],
        unexpected: [],
      },
      {
        contract: 'payments.captured',
        start: '2026-01-31T10:00:00.000Z',
        counts: { expected: 2, observed: 2, missing: 0, duplicated: 1, unexpected: 0, deadLettered: 0 },
        missing: [],
        duplicated: ['b2'],
        unexpected: [],
      },
      {
        contract: 'payments.captured',
        start: '2026-01-31T11:00:00.000Z',
        counts: { expected: 1, observed: 0, missing: 1, duplicated: 0, unexpected: 0, deadLettered: 0 },
        missing: ['b3'],
        duplicated: [],
        unexpected: [],
      },
    ]);
    expect(kafka!.groups[1]!.window).toEqual({ start: '2026-01-31T11:00:00.000Z', end: '2026-01-31T12:00:00.000Z' });
    expect(kafka!.groups[1]!.duplicatePositions).toEqual({ a3: ['orders.order-placed@0:1', 'orders.order-placed@0:2'] });
    expect(kafka!.groups[3]!.duplicatePositions).toEqual({
      b2: ['payments.captured@0:1', 'payments.captured@0:2', 'payments.captured@0:3'],
    });
    expect(kafka!.totals).toEqual({ expected: 8, observed: 7, missing: 2, duplicated: 2, unexpected: 1, deadLettered: 0 });
  });

  it('counts an expected event in the window of its expected time, even when the broker stamped a time in the next window', () => {
    const expected: ExpectedEvent[] = [{ id: 'e1', contract: 'c', time: at(T0 + H - 1) }];
    const report = reconcile(expected, { kafka: [{ id: 'e1', contract: 'c', time: at(T0 + H + 2) }] }, { window: '1h' });
    expect(report.ok).toBe(true);
    expect(report.sources[0]!.groups.map((g) => [g.window?.start, g.counts.expected, g.counts.observed])).toEqual([
      ['2026-01-31T10:00:00.000Z', 1, 1],
    ]);
  });

  it('keeps one group per contract without a window, and is ok when every source has every event once', () => {
    const expected = fixture();
    const all = expected.map((e, i) => copy(e.id, e.contract!, Number(new Date(e.time)), `0:${i}`));
    const report = reconcile(expected, { kafka: all, warehouse: all.map((o) => ({ ...o, position: 'orders' })) });
    expect(report.ok).toBe(true);
    expect(report.window).toBeNull();
    expect(report.sources.map((s) => s.source)).toEqual(['kafka', 'warehouse']);
    for (const s of report.sources) {
      expect(s.ok).toBe(true);
      expect(s.groups.map((g) => [g.contract, g.window, g.counts.expected, g.counts.observed])).toEqual([
        ['orders.order-placed', null, 5, 5],
        ['payments.captured', null, 3, 3],
      ]);
    }
  });

  it('ignores copies of expected events outside from/to, drops unexpected ones outside, and keeps unexpected ones without a time', () => {
    const observed: ObservedEvent[] = [
      copy('a1', 'orders.order-placed', T0, '0:0'), // expected, before `from`: not unexpected
      copy('a1', 'orders.order-placed', T0, '0:1'), // ...and not a duplicate either
      copy('a3', 'orders.order-placed', T0 + H, '0:2'), // in range, exactly at `from`
      copy('a4', 'orders.order-placed', T0 + H + 5, '0:3'),
      copy('old', 'orders.order-placed', T0 + H - 1, '0:4'), // unexpected, 1 ms before `from`
      copy('late', 'orders.order-placed', T0 + 2 * H, '0:5'), // unexpected, exactly at `to` (exclusive)
      copy('x2', 'orders.order-placed', T0 + 2 * H - 1, '0:6'), // unexpected, last instant in range
      { id: 'orders.order-placed@1:7', position: '1:7', topic: 'orders.order-placed' }, // no id, type or time
      copy('b3', 'payments.captured', T0 + H, '1:0'),
    ];
    const report = reconcile(fixture(), { kafka: observed }, { from: at(T0 + H), to: new Date(T0 + 2 * H), window: '1h' });
    expect(report.from).toBe('2026-01-31T11:00:00.000Z');
    expect(report.to).toBe('2026-01-31T12:00:00.000Z');
    expect(report.expected).toBe(3);
    const groups = report.sources[0]!.groups.map((g) => [g.contract, g.window?.start ?? null, g.counts, g.missing, g.unexpected]);
    expect(groups).toEqual([
      [
        'orders.order-placed',
        '2026-01-31T11:00:00.000Z',
        { expected: 2, observed: 3, missing: 0, duplicated: 0, unexpected: 1, deadLettered: 0 },
        [],
        ['x2'],
      ],
      [
        'payments.captured',
        '2026-01-31T11:00:00.000Z',
        { expected: 1, observed: 1, missing: 0, duplicated: 0, unexpected: 0, deadLettered: 0 },
        [],
        [],
      ],
      [
        'unknown',
        null,
        { expected: 0, observed: 1, missing: 0, duplicated: 0, unexpected: 1, deadLettered: 0 },
        [],
        ['orders.order-placed@1:7'],
      ],
    ]);
  });

  it('counts a dead-lettered expected event as missing and dead-lettered, and an unexpected dead letter as unexpected', () => {
    const expected: ExpectedEvent[] = [
      { id: 'e1', contract: 'c', time: at(T0) },
      { id: 'e2', contract: 'c', time: at(T0 + 1) },
      { id: 'e3', contract: 'c', time: at(T0 + 2) },
    ];
    const warehouse: ObservedEvent[] = [
      { id: 'e1', contract: 'c', type: 'c', time: at(T0), position: 'c_table' },
      { id: 'e2', contract: 'c', type: 'c', time: at(T0 + 5), position: 'herald_load_dead_letters', deadLettered: true },
      { id: 'zz', type: 'c', time: at(T0 + 6), position: 'herald_load_dead_letters', deadLettered: true },
    ];
    const [g] = reconcile(expected, { warehouse }).sources[0]!.groups;
    expect(g!.counts).toEqual({ expected: 3, observed: 1, missing: 2, duplicated: 0, unexpected: 1, deadLettered: 2 });
    expect(g!.missing).toEqual(['e2', 'e3']);
    expect(g!.deadLettered).toEqual(['e2', 'zz']);
    expect(g!.unexpected).toEqual(['zz']);
  });

  it('reports an id in two warehouse tables as duplicated, naming both tables', () => {
    const report = reconcile([{ id: 'e1', contract: 'c', time: T0 }], {
      warehouse: [
        { id: 'e1', contract: 'c', time: T0, position: 'c_v1' },
        { id: 'e1', contract: 'c', time: T0, position: 'c_v2' },
      ],
    });
    const g = report.sources[0]!.groups[0]!;
    expect(g.duplicated).toEqual(['e1']);
    expect(g.duplicatePositions).toEqual({ e1: ['c_v1', 'c_v2'] });
    expect(report.ok).toBe(false);
  });

  it('labels unexpected events the way the expected ones are labelled: by type when they name types', () => {
    const expected: ExpectedEvent[] = [{ id: 'e1', type: 'com.example.order.placed', time: T0 }];
    const observed: ObservedEvent[] = [
      { id: 'e1', contract: 'orders.order-placed', type: 'com.example.order.placed', time: T0 },
      { id: 'u1', contract: 'orders.order-placed', type: 'com.example.order.placed', time: T0 },
      { id: 'u2', contract: 'payments.captured', type: 'com.example.payment.captured', time: T0 },
    ];
    const groups = reconcile(expected, { kafka: observed }).sources[0]!.groups;
    expect(groups.map((g) => [g.contract, g.unexpected])).toEqual([
      ['com.example.order.placed', ['u1']],
      ['com.example.payment.captured', ['u2']],
    ]);
  });

  it('gives the same report whatever the input order, and lists ids the expected input repeats', () => {
    const expected = fixture();
    const observed = expected.flatMap((e, i) => (i % 3 === 0 ? [] : [copy(e.id, e.contract!, Number(new Date(e.time)), `0:${i}`)]));
    observed.push(copy('u9', 'orders.order-placed', T0, '9:9'), copy('u1', 'orders.order-placed', T0, '9:8'));
    const one = reconcile([...expected, expected[2]!], { kafka: observed }, { window: '30m' });
    const two = reconcile([expected[2]!, ...[...expected].reverse()], { kafka: [...observed].reverse() }, { window: '30m' });
    expect(JSON.stringify(one)).toBe(JSON.stringify(two));
    expect(one.expectedDuplicated).toEqual(['a3']);
    expect(one.sources[0]!.groups.flatMap((g) => g.unexpected)).toEqual(['u1', 'u9']);
    expect(one.sources[0]!.groups.flatMap((g) => g.missing)).toEqual(['a1', 'a4', 'b2']);
  });

  it('refuses bad options and expected events it cannot place, naming the option or the id', () => {
    expect(parseWindow('1h')).toBe(H);
    expect(parseWindow('30s')).toBe(30_000);
    expect(parseWindow('1d')).toBe(24 * H);
    expect(parseWindow(250)).toBe(250);
    for (const bad of ['1', 'h', '0m', '-1h', '1.5h', '1w']) {
      expect(() => parseWindow(bad)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining("'window'") }),
      );
    }
    expect(() => reconcile([], {}, { from: 'yesterday' })).toThrow(/option 'from'/);
    expect(() => reconcile([{ id: 'e1', contract: 'c', time: 'not a time' }], {})).toThrow(/expected event 'e1' has no valid time/);
    expect(() => reconcile([{ id: 'e1', time: T0 }], {})).toThrow(/expected event 'e1' has neither a contract nor a type/);
    expect(() => reconcile([{ id: '', contract: 'c', time: T0 }], {})).toThrow(/has no id/);
  });
});
