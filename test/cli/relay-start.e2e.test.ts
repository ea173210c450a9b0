import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractRegistry } from '../../src/contracts/registry.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { KAFKA, PG_URL, createTopic, exited, herald, pgClient, readTopic, startHerald, uniqueName, waitFor } from '../support/services.js';
import { orderPlaced } from '../support/contracts.js';
import { forward, freePort } from '../support/tcp-forward.js';

// A relay started before its broker or database waits for them with backoff, as it does when
// they go away mid-run; --fail-fast keeps the old exit 1. The "server coming up" is a TCP
// forwarder to the real PostgreSQL / Kafka that the test starts late.
const schema = uniqueName('relay_start');
const topic = uniqueName('relay.start').replace('_', '.');
let dir: string;

beforeAll(async () => {
  expect((await herald(['migrate', '--database', PG_URL, '--schema', schema])).code).toBe(0);
  await createTopic(topic);
  dir = await mkdtemp(join(tmpdir(), 'herald-relay-start-'));
  const contract = (await readFile('examples/orders/contracts/order-placed.v1.yaml', 'utf8')).replace(
    'value: orders.order-placed.v1',
    `value: ${topic}`,
  );
  await writeFile(join(dir, 'order-placed.yaml'), contract);
});
afterAll(async () => {
  const db = await pgClient();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
  await rm(dir, { recursive: true, force: true });
});

/** Appends `n` events in one committed transaction; returns their ids. */
async function write(n: number): Promise<string[]> {
  const outbox = new PostgresOutbox({ contracts: await ContractRegistry.fromDir(dir), source: '/test', schema });
  const db = await pgClient();
  try {
    await db.query('BEGIN');
    const ids = [];
    for (let i = 0; i < n; i++) ids.push((await outbox.append(db, 'orders.order-placed', orderPlaced(`k-${i}`))).id);
    await db.query('COMMIT');
    return ids;
  } finally {
    await db.end();
  }
}

const delivered = async (ids: readonly string[]): Promise<boolean> => {
  const seen = new Set((await readTopic(topic)).map((m) => m.headers.ce_id));
  return ids.every((id) => seen.has(id));
};

describe('herald relay at start-up', () => {
  it('waits for a database that is not up yet, then delivers', async () => {
    const ids = await write(3);
    const port = await freePort();
    const url = PG_URL.replace('127.0.0.1:5432', `127.0.0.1:${port}`);
    expect(url).not.toBe(PG_URL);
    const relay = startHerald([
      'relay',
      '--database',
      url,
      '--schema',
      schema,
      '--kafka',
      `kafka://${KAFKA}`,
      '--contracts',
      dir,
      '--json',
    ]);
    const log = (): string => relay.log.join('');
    expect(await waitFor(async () => log().includes('waiting') && log().includes('cannot connect to postgresql'), 20_000), log()).toBe(
      true,
    );
    expect(relay.exitCode).toBeNull();
    const up = await forward(port, '127.0.0.1:5432');
    try {
      expect(await waitFor(() => delivered(ids), 30_000, 500), log()).toBe(true);
      relay.kill('SIGTERM');
      expect(await exited(relay), log()).toBe(0);
    } finally {
      relay.kill('SIGKILL');
      await up.close();
    }
  });

  it('waits for a broker that is not up yet, then delivers', async () => {
    const ids = await write(2);
    const port = await freePort();
    const relay = startHerald([
      'relay',
      '--database',
      PG_URL,
      '--schema',
      schema,
      '--kafka',
      `kafka://127.0.0.1:${port}`,
      '--contracts',
      dir,
      '--json',
    ]);
    const log = (): string => relay.log.join('');
    expect(await waitFor(async () => log().includes('waiting') && log().includes('cannot reach kafka'), 30_000), log()).toBe(true);
    // The broker's metadata then names the real listener, so only the bootstrap goes through here.
    const up = await forward(port, KAFKA);
    try {
      expect(await waitFor(() => delivered(ids), 60_000, 500), log()).toBe(true);
      relay.kill('SIGTERM');
      expect(await exited(relay), log()).toBe(0);
    } finally {
      relay.kill('SIGKILL');
      await up.close();
    }
  });

  it('stops waiting on SIGTERM and exits 0', async () => {
    const port = await freePort();
    const relay = startHerald([
      'relay',
      '--database',
      PG_URL.replace('127.0.0.1:5432', `127.0.0.1:${port}`),
      '--schema',
      schema,
      '--kafka',
      `kafka://${KAFKA}`,
    ]);
    expect(await waitFor(async () => relay.log.join('').includes('waiting'), 20_000)).toBe(true);
    relay.kill('SIGTERM');
    expect(await exited(relay), relay.log.join('')).toBe(0);
  });

  it('exits 1 at once with --fail-fast, naming what it could not reach', async () => {
    const port = await freePort();
    const r = await herald(['relay', '--database', PG_URL, '--schema', schema, '--kafka', `kafka://127.0.0.1:${port}`, '--fail-fast']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach kafka at 127.0.0.1:${port}`);
    expect(r.stderr).not.toContain('waiting');
  });
});
