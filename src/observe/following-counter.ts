import { Counter, type Registry } from 'prom-client';

/** One series of a {@link followingCounter}: its label values and the total counted so far. */
export type CounterReading<L extends string> = readonly [labels: Readonly<Record<L, string>>, total: number];

/**
 * A Prometheus counter that follows totals a component already keeps as plain numbers (its
 * `stats`), read when Prometheus scrapes: the component's hot path does no metric work at all.
 * At each collection every series gets what its total grew by since the last one; a series seen
 * for the first time appears at its total (0 included, so it exists from the first scrape). A
 * total that goes down (it never should) is ignored rather than making the counter decrease.
 * Label values must come from bounded sets (topics, tables, the store), never from event data.
 */
export function followingCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  read: () => Iterable<CounterReading<L>>,
): Counter<L> {
  const counted = new Map<string, number>();
  return new Counter<L>({
    name,
    help,
    labelNames: [...labelNames],
    registers: [registry],
    collect() {
      for (const [labels, total] of read()) {
        const key = JSON.stringify(labelNames.map((l) => labels[l]));
        const before = counted.get(key);
        if (before === undefined || total > before) this.inc(labels as Partial<Record<L, string | number>>, total - (before ?? 0));
        if (before === undefined || total > before) counted.set(key, total);
      }
    },
  });
}
