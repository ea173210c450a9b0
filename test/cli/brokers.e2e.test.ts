import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { orderContracts, orderPlaced, firstSeqs } from '../support/contracts.js';
import { PG_URL, exited, herald, pgClient, startRelay, uniqueName, waitFor } from '../support/services.js';

const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
const streams: string[] = [];
afterAll(async () => {
  if (streams.length) await redis.del(...streams);
  redis.disconnect();
});

describe('herald relay --broker', () => {
  it('delivers through the broker its URL names (Redis Streams here), in order per key', async () => {
    const schema = uniqueName('cli_broker');
    const topic = uniqueName('cli.broker');
    streams.push(topic);
    await migratePostgres(PG_URL, { schema });
    const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/cli-broker', schema });
    const db = await pgClient();
    await db.query('BEGIN');
    const events = await outbox.appendMany(
      db,
      Array.from({ length: 30 }, (_, i) => ({ contract: 'orders.order-placed', data: orderPlaced(`k-${i % 3}`, Math.floor(i / 3)) })),
    );
    await db.query('COMMIT');
    await db.end();

    const relay = startRelay(['--database', PG_URL, '--schema', schema, '--broker', 'redis://127.0.0.1:6379', '--json']);
    expect(await waitFor(async () => (await postgresOutboxStatus(PG_URL, { schema })).pending === 0, 30_000)).toBe(true);
    relay.kill('SIGTERM');
    expect(await exited(relay)).toBe(0);
    expect(relay.log.join('')).toContain('"publisher":"redis-streams"');

    const entries = (await redis.xrange(topic, '-', '+')).map(([, flat]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
      return fields;
    });
    expect(entries.map((f) => f.id)).toEqual(events.map((e) => e.id));
    const messages = entries.map((f) => ({ key: f.partitionkey ?? f.ce_partitionkey ?? '', payload: f.data!, headers: { ce_id: f.id! } }));
    for (let k = 0; k < 3; k++) expect(firstSeqs(messages, `k-${k}`)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('names the broker schemes it knows when the URL has another one (exit code 2)', async () => {
    const relay = await herald(['relay', '--database', PG_URL, '--broker', 'carrier-pigeon://coop']);
    expect(relay.code).toBe(2);
    expect(relay.stderr).toContain("option 'broker' must be a URL with one of the schemes kafka, pubsub, nats, amqp");
  });

  it('accepts an sns:// URL and says when the SNS endpoint cannot be reached', async () => {
    // Dummy credentials so that the SDK's default chain never looks beyond 127.0.0.1 (no IMDS).
    const env = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_EC2_METADATA_DISABLED: 'true' };
    const relay = await herald(
      ['relay', '--database', PG_URL, '--broker', 'sns://eu-west-1?endpoint=http://127.0.0.1:1', '--fail-fast'],
      env,
    );
    expect(relay.code).toBe(1);
    expect(relay.stderr).toContain('cannot reach sns');
    expect(relay.stderr).not.toContain('not supported');
  });
});
