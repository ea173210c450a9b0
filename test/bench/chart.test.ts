import { describe, expect, it } from 'vitest';
import { renderChart } from '../../bench/chart.js';
import { summarize, type BenchLine } from '../../bench/summary.js';
import { markdownReport } from '../../bench/report-table.js';

/** JSON lines as the benchmarks print them, trimmed to the fields the summary reads. */
const LINES: BenchLine[] = [
  { bench: 'relay-throughput', eventsPerSec: { herald: 40_000, raw: 50_000 } },
  {
    bench: 'relay-source-drain',
    config: { publisher: 'kafka' },
    eventsPerSec: { polling: 30_000, logicalTable: 45_000, logicalWal: 55_000 },
  },
  { bench: 'write-overhead', txPerSec: { none: 4000, handWritten: 3000, herald: 2900 } },
  { bench: 'store-write', store: 'sqlite', layer: 'better-sqlite3 <sync>', heraldTxPerSec: 900, handWrittenTxPerSec: 1000 },
  // The median of per-round ratios, which the bench prints as `ratio`, wins over the ratio of medians.
  { bench: 'store-write', store: 'mysql', layer: 'mysql2', heraldTxPerSec: 770, handWrittenTxPerSec: 1000, ratio: 0.873 },
  {
    bench: 'load',
    summary: [{ warehouse: 'duckdb', heraldRowsPerSecond: 17_000, rawRowsPerSecond: 30_000 }],
    components: { consumerOnlyRowsPerSecond: 34_000 },
  },
  {
    bench: 'relay-source-latency',
    goal: { p99Ms: 50 },
    variants: {
      polling: [
        { rateSpec: '10000', rate: 10_000, achievedRate: 9_990, latencyMs: { p50: 4.2, p90: 9, p99: 31.5, max: 60 } },
        { rateSpec: '70%', rate: 21_000, achievedRate: 20_500, latencyMs: { p50: 12, p90: 40, p99: 850, max: 900 } },
      ],
      logicalWal: [],
    },
  },
  {
    bench: 'relay-source-latency',
    config: { kafkaTransactions: false },
    variants: {
      logicalWal: [{ rateSpec: '10000', rate: 10_000, achievedRate: 10_000, latencyMs: { p50: 1.3, p90: 5, p99: 13.9, max: 48 } }],
    },
  },
  {
    bench: 'relay-scale',
    variant: 'default',
    runs: [
      { processes: 1, eventsPerSec: 20_000 },
      { processes: 2, eventsPerSec: 34_000 },
      { processes: 4, eventsPerSec: 41_000 },
    ],
  },
  { bench: 'relay-memory', config: { events: 1_000_000 }, peakRssMiB: 180.5 },
  { bench: 'loader-memory', config: { events: 1_000_000 }, peakRssMiB: 300 },
  { bench: 'something-new', value: 1 },
];

const attr = (svg: string, kind: string, name: string): string[] =>
  [...svg.matchAll(new RegExp(`data-kind="${kind}"[^>]*?${name}="([^"]*)"`, 'g'))].map((m) => m[1]!);

describe('bench summary and chart', () => {
  const summary = summarize(LINES);

  it('takes every throughput as a ratio to the ceiling of the same run', () => {
    const byLabel = Object.fromEntries(summary.ratios.map((r) => [r.label, r]));
    expect(byLabel['polling relay (outbox-bench)']).toMatchObject({ value: 0.8, goal: 0.85, ceiling: 'raw Kafka producer' });
    expect(byLabel['logical source, WAL messages']).toMatchObject({ value: 1.1, goal: 0.9 });
    expect(byLabel['append, PostgreSQL (outbox-bench)']).toMatchObject({ value: 0.967, goal: 0.95 });
    expect(byLabel['append, sqlite × better-sqlite3 <sync>']?.value).toBe(0.9);
    expect(byLabel['append, mysql × mysql2']?.value).toBe(0.873);
    expect(byLabel['loader → duckdb']).toMatchObject({ value: 0.5, ceiling: 'consume-only Kafka consumer', goal: 0.8 });
    expect(summary.latency.map((l) => [l.variant, l.rateSpec, l.p99])).toEqual([
      ['polling', '10000', 31.5],
      ['polling', '70%', 850],
      ['logicalWal (idempotent)', '10000', 13.9],
    ]);
    expect(summary.scale.map((p) => p.processes)).toEqual([1, 2, 4]);
    expect(summary.memory).toEqual([
      { label: 'herald relay, backlog', events: 1_000_000, peakRssMiB: 180.5, goal: 256 },
      { label: 'herald load, topic', events: 1_000_000, peakRssMiB: 300 },
    ]);
  });

  it('draws one bar per ratio with its label, the 1.0 line and each goal', () => {
    const svg = renderChart(summary, 'quick run <noisy> & loaded');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(attr(svg, 'ratio-bar', 'data-label')).toEqual(summary.ratios.map((r) => r.label.replace('<', '&lt;').replace('>', '&gt;')));
    expect(attr(svg, 'ratio-bar', 'data-value').map(Number)).toEqual(summary.ratios.map((r) => r.value));
    expect(svg).toContain('data-kind="one"');
    // Grouped under one line per ceiling, each naming it once.
    expect([...svg.matchAll(/data-kind="ceiling"[^>]*>divided by: ([^<]*)</g)].map((m) => m[1])).toEqual([
      'raw Kafka producer',
      'hand-written INSERT',
      'consume-only Kafka consumer',
    ]);
    expect(attr(svg, 'goal', 'data-goal').map(Number)).toEqual([...summary.ratios.map((r) => r.goal!), 50, 256]);
    expect(svg).toContain('logicalWal (idempotent) @ 10000');
    // Text is escaped: the caption and a label with < and > do not break the document.
    expect(svg).toContain('quick run &lt;noisy&gt; &amp; loaded');
    expect(svg).toContain('better-sqlite3 &lt;sync&gt;');
    expect(svg).not.toContain('<sync>');
  });

  it('draws the latency percentiles, the scale curve and the memory bars', () => {
    const svg = renderChart(summary, 'run');
    expect(attr(svg, 'latency-p99', 'data-value').map(Number)).toEqual([31.5, 850, 13.9]);
    expect(attr(svg, 'latency-p50', 'data-value').map(Number)).toEqual([4.2, 12, 1.3]);
    expect(svg).toContain('polling @ 70% (21000/s asked, 20500/s done)');
    expect(attr(svg, 'scale-point', 'data-processes').map(Number)).toEqual([1, 2, 4]);
    expect(attr(svg, 'scale-point', 'data-value').map(Number)).toEqual([20_000, 34_000, 41_000]);
    expect(svg).toContain('data-kind="scale-line"');
    expect(attr(svg, 'memory-bar', 'data-value').map(Number)).toEqual([180.5, 300]);
  });

  it('says so in a panel without figures instead of drawing nothing', () => {
    const svg = renderChart(summarize([{ bench: 'relay-throughput', eventsPerSec: { herald: 1, raw: 2 } }]), 'run');
    expect(attr(svg, 'ratio-bar', 'data-value')).toEqual(['0.5']);
    expect(svg.match(/no figures in this run/g)).toHaveLength(3);
  });

  it('prints the same figures as a markdown table', () => {
    const md = markdownReport({
      summary,
      machine: { cores: 2 },
      date: '2026-12-07T16:00:00Z',
      command: 'npm run bench -- --quick',
      quick: true,
    });
    expect(md).toContain('| polling relay (outbox-bench) | raw Kafka producer | 0.80 | ≥ 0.85 | not met |');
    expect(md).toContain('| logical source, WAL messages | raw Kafka producer | 1.10 | ≥ 0.9 | met |');
    expect(md).toContain('| polling | 10000 | 10000 | 9990 | 4.2 | 9 | 31.5 | 60 | met |');
    expect(md).toContain('| 4 | 41000 | 2.05 |');
    expect(md).toContain('| herald relay, backlog | 1,000,000 | 180.5 | ≤ 256 | met |');
    expect(md).toContain('quick run');
  });
});
