import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { event } from '../../src/event.js';
import { isHeraldError, ErrorCodes } from '../../src/errors.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import { DuckDbPublisher, countRows, queryDuckDb } from '../../src/warehouse/duckdb-publisher.js';

function outgoing(n: number, extra: { subject?: string; dataschema?: string; traceparent?: string } = {}): OutgoingEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const { data, ...envelope } = event({
      source: '/orders',
      type: 'orders.order-placed',
      partitionkey: `customer-${i % 3}`,
      time: new Date(Date.UTC(2025, 0, 2, 3, 4, 5, i)),
      data: { orderId: `o-${i}`, total: i * 1.5, lines: [{ sku: 'a', quantity: i }] },
      ...extra,
    });
    return { event: envelope, topic: 'orders.v1', data: JSON.stringify(data) };
  });
}

describe('DuckDbPublisher', () => {
  let dir: string;
  let file: string;
  let publisher: DuckDbPublisher;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'herald-duckdb-'));
    // A nested path checks that the parent directory is created.
    file = path.join(dir, 'nested', 'warehouse.duckdb');
    publisher = new DuckDbPublisher({ path: file });
  });

  afterEach(async () => {
    await publisher.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lands a batch as rows with every attribute', async () => {
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const batch = outgoing(3, { subject: 'order/1', dataschema: 'orders.order-placed/1.0.0', traceparent });
    await publisher.prepare(['orders.v1']);
    await publisher.publish(batch);

    const rows = await queryDuckDb(file, 'SELECT * FROM events ORDER BY event_time');
    expect(rows).toHaveLength(3);
    for (const [i, row] of rows.entries()) {
      const { event: e } = batch[i]!;
      expect(row).toMatchObject({
        event_id: e.id,
        topic: 'orders.v1',
        type: 'orders.order-placed',
        source: '/orders',
        subject: 'order/1',
        partition_key: e.partitionkey,
        event_time: e.time,
        dataschema: 'orders.order-placed/1.0.0',
        traceparent,
      });
      expect(typeof row.loaded_at).toBe('string');
      expect(Number.isNaN(Date.parse(row.loaded_at as string))).toBe(false);
    }
  });

  it('stores absent optional attributes as null', async () => {
    await publisher.publish(outgoing(1));
    const [row] = await queryDuckDb(file, 'SELECT subject, dataschema, traceparent FROM events');
    expect(row).toEqual({ subject: null, dataschema: null, traceparent: null });
  });

  it('leaves one row per event id when the same batch is published twice', async () => {
    const batch = outgoing(50);
    await publisher.publish(batch);
    await publisher.publish(batch);
    await publisher.publish([...batch.slice(0, 10), ...outgoing(5)]);
    expect(await countRows(file)).toBe(55);
    const [dupes] = await queryDuckDb(file, 'SELECT count(*) - count(DISTINCT event_id) AS extra FROM events');
    expect(dupes).toEqual({ extra: 0 });
  });

  it('keeps one row when a single batch repeats an event id', async () => {
    const [first] = outgoing(1);
    await publisher.publish([first!, first!, first!]);
    expect(await countRows(file)).toBe(1);
  });

  it('holds in the data column exactly the JSON it was given', async () => {
    const payload = { orderId: 'o-1', total: 12.5, note: 'quote " and ünïcode', lines: [{ sku: 'x', quantity: 2 }], gift: null };
    const [base] = outgoing(1);
    await publisher.publish([{ ...base!, data: JSON.stringify(payload) }]);
    const [row] = await queryDuckDb(file, "SELECT data, data->>'$.note' AS note, json_type(data) AS kind FROM events");
    expect(row).toEqual({ data: payload, note: payload.note, kind: 'OBJECT' });
  });

  it('writes nothing of a batch that holds a value that cannot load', async () => {
    const batch = outgoing(3);
    const broken = [...batch.slice(0, 2), { ...batch[2]!, data: '{not json' }];
    const err = await publisher.publish(broken).catch((e: unknown) => e);
    expect(isHeraldError(err, ErrorCodes.PUBLISH_REJECTED)).toBe(true);
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).not.toContain('not json');
    expect(await countRows(file)).toBe(0);
    // The staging table was rolled back too: the next batch loads exactly its own events.
    await publisher.publish(batch);
    expect(await countRows(file)).toBe(3);
  });

  it('serialises concurrent batches without losing any', async () => {
    await Promise.all(Array.from({ length: 8 }, () => publisher.publish(outgoing(25))));
    expect(await countRows(file)).toBe(200);
  });

  it('closes idempotently and rejects publish after close with CLOSED', async () => {
    await publisher.publish(outgoing(2));
    await Promise.all([publisher.close(), publisher.close()]);
    await publisher.close();
    const err = await publisher.publish(outgoing(1)).catch((e: unknown) => e);
    expect(isHeraldError(err, ErrorCodes.CLOSED)).toBe(true);
    await expect(publisher.prepare(['orders.v1'])).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    // After close the file is released, so it can be opened read-only and still has its rows.
    expect(await countRows(file)).toBe(2);
  });

  it('keeps its rows when the file is opened again by a new publisher', async () => {
    const batch = outgoing(4);
    await publisher.publish(batch);
    await publisher.close();
    publisher = new DuckDbPublisher({ path: file });
    await publisher.publish(batch);
    expect(await countRows(file)).toBe(4);
  });

  it('uses the table it is given and refuses a table name that is not a lowercase identifier', async () => {
    await publisher.close();
    publisher = new DuckDbPublisher({ path: file, table: 'order_events' });
    await publisher.publish(outgoing(2));
    expect(await countRows(file, 'order_events')).toBe(2);
    expect(() => new DuckDbPublisher({ path: file, table: 'Events; DROP TABLE x' })).toThrowError(
      expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }),
    );
  });

  it('rejects a query on a file that does not exist with CONFIG_INVALID naming it', async () => {
    const missing = path.join(dir, 'missing.duckdb');
    await expect(queryDuckDb(missing, 'SELECT 1')).rejects.toMatchObject({
      code: ErrorCodes.CONFIG_INVALID,
      message: expect.stringContaining(missing),
    });
  });
});
