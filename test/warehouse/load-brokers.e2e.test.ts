import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { publisherFor } from '../../src/brokers/broker-url.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';
import { event } from '../../src/event.js';
import { queryDuckDb } from '../../src/warehouse/duckdb-instance.js';
import { orderPlaced } from '../support/contracts.js';
import { exited, startHerald, uniqueName, waitFor } from '../support/services.js';

const CONTRACTS = 'examples/orders/contracts';

function orders(topic: string, n: number): OutgoingEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const { data, ...envelope } = event({
      source: '/orders',
      type: 'orders.order-placed',
      dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',
      partitionkey: `cust-${i % 7}`,
      data: orderPlaced(`cust-${i % 7}`, i),
    });
    return { event: envelope, topic, data: JSON.stringify(data) };
  });
}

/** `herald load` beyond Kafka: the CLI picks the subscriber by URL, and the rows land once. */
describe('herald load from other brokers (processes)', () => {
  const brokers = [
    {
      name: 'redis streams',
      url: 'redis://127.0.0.1:6379',
      cleanup: async (topic: string) => {
        const redis = new Redis({ host: '127.0.0.1', port: 6379 });
        await redis.del(topic);
        redis.disconnect();
      },
    },
    { name: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672', cleanup: async () => undefined },
  ];
  for (const broker of brokers) {
    it(`loads from ${broker.name} into DuckDB, each event once`, async () => {
      const topic = uniqueName('load.other').replace('_', '.');
      const dir = await mkdtemp(join(tmpdir(), 'herald-load-broker-'));
      await chmod(dir, 0o755);
      const file = join(dir, 'w.duckdb');
      const args = ['load', '--broker', broker.url, '--warehouse', `duckdb:${file}`, '--contracts', CONTRACTS, '--topics', topic];
      // The topic (RabbitMQ: the exchange) exists before the loader subscribes to it, so this
      // test does not depend on another one having declared it.
      const publisher = await publisherFor(broker.url, { createTopics: true });
      const events = orders(topic, 60);
      let loader: ReturnType<typeof startHerald> | undefined;
      try {
        await publisher.prepare([topic]);
        loader = startHerald([...args, '--group', uniqueName('g'), '--create-subscriptions', '--debug']);
        const log = loader.log;
        // The subscription (queue, consumer group) exists once the loader has started.
        expect(await waitFor(async () => log.join('').includes('loader started'), 20_000, 100), log.join('')).toBe(true);
        await publisher.publish(events);
        await publisher.publish(events.slice(0, 10)); // a replay: the same ids again
      } finally {
        await publisher.close();
      }
      const handled = (): number =>
        [...loader.log.join('').matchAll(/loaded a batch .*inserted=(\d+) duplicates=(\d+)/g)].reduce(
          (s, m) => s + Number(m[1]) + Number(m[2]),
          0,
        );
      expect(await waitFor(async () => handled() >= 70, 30_000, 100), loader.log.join('')).toBe(true);
      loader.kill('SIGTERM');
      expect(await exited(loader), loader.log.join('')).toBe(0);
      const [row] = await queryDuckDb(
        file,
        'SELECT count(*) AS n, count(DISTINCT _event_id) AS ids, min(_topic) AS topic FROM orders_order_placed',
      );
      expect(row).toEqual({ n: 60, ids: 60, topic });
      await broker.cleanup(topic);
    });
  }
});
