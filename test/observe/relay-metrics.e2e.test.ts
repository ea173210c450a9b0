import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { PostgresOutbox } from '../../src/postgres/outbox.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { freePort, get, promtool, sample } from '../support/metrics.js';
import { KAFKA, PG_URL, createTopic, exited, herald, pgClient, startRelay, uniqueName, waitFor } from '../support/services.js';

// A real `herald relay --metrics` process (dist/, built first) against PostgreSQL and Kafka; the
// exposition is checked by Prometheus's own promtool and scraped by a real Prometheus server.

const children: ChildProcess[] = [];
const dirs: string[] = [];
let db: pg.Client;
beforeAll(async () => {
  db = await pgClient();
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
afterAll(async () => {
  await db.end();
});

async function setup(brokerArgs: (topic: string) => string[], kafkaTopic = true) {
  const schema = uniqueName('metrics');
  const topic = uniqueName('metrics.topic').replace('_', '.');
  await migratePostgres(PG_URL, { schema });
  if (kafkaTopic) await createTopic(topic);
  const outbox = new PostgresOutbox({ contracts: orderContracts(topic), source: '/metrics-test', schema });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const relay = startRelay([
    '--database',
    PG_URL,
    '--schema',
    schema,
    ...brokerArgs(topic),
    '--poll-interval',
    '200',
    '--metrics',
    `127.0.0.1:${port}`,
    '--metrics-status-interval',
    '300',
    '--json',
  ]);
  children.push(relay);
  const up = await waitFor(async () => (await get(`${base}/healthz`)).status === 200, 20_000);
  expect(up, `relay log:\n${relay.log.join('')}`).toBe(true);
  const write = async (n: number): Promise<void> => {
    await db.query('BEGIN');
    for (let i = 0; i < n; i++) await outbox.append(db, 'orders.order-placed', orderPlaced(`cust-${i % 5}`, i));
    await db.query('COMMIT');
  };
  const metrics = async (): Promise<string> => (await get(`${base}/metrics`)).text;
  return { schema, topic, relay, base, write, metrics, port };
}

const LABELS = { store: 'postgres', source: 'polling' };

describe('herald relay --metrics', () => {
  it('counts every delivered event, shows the backlog draining, is ready, and passes promtool check metrics', async () => {
    const t = await setup(() => ['--kafka', `kafka://${KAFKA}`]);
    expect((await get(`${t.base}/healthz`)).text).toContain('"alive"');
    const ready = await waitFor(async () => (await get(`${t.base}/readyz`)).status === 200, 20_000);
    expect(ready, (await get(`${t.base}/readyz`)).text).toBe(true);
    const body = JSON.parse((await get(`${t.base}/readyz`)).text);
    expect(body).toMatchObject({ status: 'ready', checks: { database: { ok: true }, broker: { ok: true }, leases: { ok: true } } });
    expect(body.checks.leases.leasedBuckets).toBeGreaterThan(0);

    const N = 120;
    await t.write(N);
    const delivered = await waitFor(async () => sample(await t.metrics(), 'herald_relay_delivered_total', LABELS) === N, 30_000);
    let text = await t.metrics();
    expect(
      delivered,
      text
        .split('\n')
        .filter((l) => l.startsWith('herald_'))
        .join('\n'),
    ).toBe(true);
    expect(sample(text, 'herald_relay_broker_outages_total', LABELS)).toBe(0);
    expect(sample(text, 'herald_relay_dead_lettered_total', LABELS)).toBe(0);
    expect(sample(text, 'herald_relay_publish_batch_duration_seconds_count', { ...LABELS, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    // The backlog gauge follows: the topic was seen with events pending, then drained to 0.
    const drained = await waitFor(async () => sample(await t.metrics(), 'herald_outbox_pending_events', { topic: t.topic }) === 0, 10_000);
    text = await t.metrics();
    expect(drained || sample(text, 'herald_outbox_pending_events', { topic: t.topic }) === undefined).toBe(true);
    expect(text).toContain('process_cpu_seconds_total');
    await expect(promtool(text)).resolves.toBe('');

    t.relay.kill('SIGTERM');
    expect(await exited(t.relay)).toBe(0);
  });

  it('answers /readyz 503 with a JSON reason while the broker cannot be reached, and counts the outage', async () => {
    const dead = await freePort(); // nothing listens there: connection refused
    const t = await setup(() => ['--broker', `http://127.0.0.1:${dead}/events/{topic}`], false);
    await t.write(3);
    const notReady = await waitFor(async () => {
      const r = await get(`${t.base}/readyz`);
      return r.status === 503 && r.text.includes('"broker":{"ok":false');
    }, 20_000);
    const r = await get(`${t.base}/readyz`);
    expect(notReady, r.text).toBe(true);
    const body = JSON.parse(r.text);
    expect(body.status).toBe('not ready');
    expect(body.checks.broker.error).toMatch(/127\.0\.0\.1/);
    expect(body.checks.database.ok).toBe(true);
    const text = await t.metrics();
    expect(sample(text, 'herald_relay_broker_outages_total', LABELS)).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'herald_relay_delivered_total', LABELS)).toBe(0);
    await waitFor(async () => (sample(await t.metrics(), 'herald_outbox_pending_events', { topic: t.topic }) ?? 0) === 3, 5_000);
    expect(sample(await t.metrics(), 'herald_outbox_pending_events', { topic: t.topic })).toBe(3);
    expect(sample(await t.metrics(), 'herald_outbox_oldest_event_age_seconds', { topic: t.topic })).toBeGreaterThan(0);
  });

  it('refuses a wrong --metrics value with exit 2, naming the flag', async () => {
    const r = await herald(['relay', '--database', PG_URL, '--kafka', `kafka://${KAFKA}`, '--metrics', 'localhost:notaport']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--metrics must be HOST:PORT or PORT');
  });

  it('is scraped by a real Prometheus server whose stored delivered total follows the relay', async () => {
    const t = await setup(() => ['--kafka', `kafka://${KAFKA}`]);
    const dir = await mkdtemp(join(tmpdir(), 'herald-prom-'));
    dirs.push(dir);
    const promPort = await freePort();
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: herald-relay\n    static_configs:\n      - targets: ['127.0.0.1:${t.port}']\n`,
    );
    const prom = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: 'ignore' },
    );
    children.push(prom);
    const query = async (q: string): Promise<number | undefined> => {
      const r = await get(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      if (r.status !== 200) return undefined;
      const v = (JSON.parse(r.text) as { data: { result: { value: [number, string] }[] } }).data.result[0]?.value[1];
      return v === undefined ? undefined : Number(v);
    };
    const q = `herald_relay_delivered_total{job="herald-relay"}`;
    expect(await waitFor(async () => (await query(q)) === 0, 30_000), 'Prometheus never stored the first scrape').toBe(true);
    expect(await query(`up{job="herald-relay"}`)).toBe(1);
    await t.write(40);
    expect(await waitFor(async () => (await query(q)) === 40, 30_000), `stored: ${await query(q)}`).toBe(true);
    await t.write(10);
    expect(await waitFor(async () => (await query(q)) === 50, 30_000), `stored: ${await query(q)}`).toBe(true);
    prom.kill('SIGTERM');
    await exited(prom);
  });
});
