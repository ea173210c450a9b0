import { describe, expect, it } from 'vitest';
import { ErrorCodes, HeraldError, isHeraldError } from '../../src/errors.js';
import { parseMetricsAddress } from '../../src/observe/metrics-address.js';
import { createMetricsRegistry } from '../../src/observe/metrics.js';
import { registerOutboxMetrics } from '../../src/observe/outbox-metrics.js';
import { OutboxStatusMonitor, type MonitoredStatus } from '../../src/observe/outbox-status-monitor.js';
import { combineObservers, relayReadiness } from '../../src/observe/relay-health.js';
import { registerRelayMetrics, relayCounters } from '../../src/observe/relay-metrics.js';
import { scrubSecrets } from '../../src/observe/scrub.js';
import { Relay } from '../../src/relay/relay.js';
import type { RelaySource } from '../../src/relay/source.js';
import { InMemoryOutbox, RecordingPublisher } from '../../src/testing/index.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';

const TOPIC = 'orders.order-placed.v1';

/** The value of one series in a Prometheus text exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('--metrics HOST:PORT', () => {
  it('takes HOST:PORT, PORT, :PORT and [IPv6]:PORT; the host defaults to 127.0.0.1', () => {
    expect(parseMetricsAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseMetricsAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress(':9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseMetricsAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(parseMetricsAddress('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
  });

  it('refuses anything else with CONFIG_INVALID naming the flag', () => {
    for (const bad of ['', 'abc', '127.0.0.1', '127.0.0.1:', '1:2:3', '70000', 'host:-1', 'http://127.0.0.1:9464', undefined]) {
      let err: unknown;
      try {
        parseMetricsAddress(bad);
      } catch (e) {
        err = e;
      }
      expect(isHeraldError(err, ErrorCodes.CONFIG_INVALID), `value ${String(bad)}`).toBe(true);
      expect((err as Error).message).toContain('--metrics');
      expect((err as HeraldError).details).toEqual({ option: 'metrics' });
    }
  });
});

describe('relay metrics', () => {
  it('names every metric the Prometheus way and counts what a real Relay did', async () => {
    const outbox = new InMemoryOutbox({ contracts: orderContracts(TOPIC), source: '/metrics-test' });
    for (let i = 0; i < 7; i++) await outbox.transaction((tx) => outbox.append(tx, 'orders.order-placed', orderPlaced(`c-${i % 3}`, i)));
    const registry = createMetricsRegistry();
    const source = outbox.source();
    const holder: { relay?: Relay } = {};
    const observer = registerRelayMetrics(registry, { stats: () => holder.relay?.stats, source, store: 'memory' });
    // The batch of 7, then its halves of 4 and 2, then one event: that one is refused and retried.
    const publisher = new RecordingPublisher().failNext('refused', 4);
    const relay = (holder.relay = new Relay({ source, publisher, observer, pollIntervalMs: 5, retryBaseMs: 1, retryMaxMs: 5 }));
    const before = await registry.metrics();
    expect(sample(before, 'herald_relay_delivered_total', { store: 'memory', source: source.name })).toBe(0);
    const running = relay.run();
    while (outbox.pending.length > 0) await new Promise((r) => setTimeout(r, 5));
    await relay.stop();
    await running;
    const text = await registry.metrics();
    const labels = { store: 'memory', source: source.name };
    expect(sample(text, 'herald_relay_delivered_total', labels)).toBe(7);
    expect(sample(text, 'herald_relay_refused_total', labels)).toBe(1);
    expect(sample(text, 'herald_relay_retried_total', labels)).toBe(1);
    expect(sample(text, 'herald_relay_dead_lettered_total', labels)).toBe(0);
    expect(sample(text, 'herald_relay_publish_batch_duration_seconds_count', { ...labels, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'herald_relay_publish_batch_duration_seconds_count', { ...labels, outcome: 'failed' })).toBeGreaterThanOrEqual(1);
    // A second scrape does not count again.
    expect(sample(await registry.metrics(), 'herald_relay_delivered_total', labels)).toBe(7);
    for (const name of Object.keys(relayCounters)) expect(name).toMatch(/^herald_relay_[a-z_]+_total$/);
    expect(text).toContain('# TYPE herald_relay_delivered_total counter');
    expect(text).toContain('# TYPE herald_relay_publish_batch_duration_seconds histogram');
    expect(text).toContain('process_cpu_seconds_total');
    // Bounded labels only: no event id or partition key ever becomes a label value.
    for (const e of publisher.published) {
      expect(text).not.toContain(e.event.id);
      expect(text).not.toContain(`"${e.event.partitionkey}"`);
    }
  });

  it('exports leased buckets, the outbox backlog per topic and the slot, and passes promtool check metrics', async () => {
    const registry = createMetricsRegistry();
    let leased = 12;
    const source = { name: 'polling', ownership: () => ({ held: leased > 0, leasedBuckets: leased }) } as unknown as RelaySource;
    registerRelayMetrics(registry, { stats: () => undefined, source, store: 'postgres' });
    let status: MonitoredStatus = {
      pending: 5,
      oldestPendingSeconds: 42.5,
      deadLettered: 1,
      relays: 1,
      topics: [
        { topic: 'a.v1', pending: 3, oldestPendingSeconds: 42.5, retrying: 1, deadLettered: 0 },
        { topic: 'b.v1', pending: 2, oldestPendingSeconds: 3, retrying: 0, deadLettered: 1 },
      ],
      slot: {
        slot: 'herald_relay',
        exists: true,
        active: true,
        walStatus: 'reserved',
        lagBytes: 4096,
        lagSeconds: 0.25,
        lastDeliverySeconds: 1,
        safeWalBytes: null,
        parked: 0,
        deliveredNotDeleted: 2,
      },
    };
    const monitor = new OutboxStatusMonitor({ read: async () => status, intervalMs: 60_000 });
    registerOutboxMetrics(registry, monitor);
    await monitor.start();
    let text = await registry.metrics();
    expect(sample(text, 'herald_relay_leased_buckets', { store: 'postgres', source: 'polling' })).toBe(12);
    expect(sample(text, 'herald_outbox_pending_events', { topic: 'a.v1' })).toBe(3);
    expect(sample(text, 'herald_outbox_oldest_event_age_seconds', { topic: 'a.v1' })).toBe(42.5);
    expect(sample(text, 'herald_outbox_dead_letters', { topic: 'b.v1' })).toBe(1);
    expect(sample(text, 'herald_slot_lag_bytes', { slot: 'herald_relay' })).toBe(4096);
    expect(sample(text, 'herald_slot_lag_seconds', { slot: 'herald_relay' })).toBe(0.25);
    expect(sample(text, 'herald_slot_delivered_not_deleted_events', { slot: 'herald_relay' })).toBe(2);
    expect(sample(text, 'herald_slot_wal_status', { slot: 'herald_relay', status: 'reserved' })).toBe(1);
    expect(sample(text, 'herald_slot_wal_status', { slot: 'herald_relay', status: 'lost' })).toBe(0);
    expect(text).not.toContain('herald_slot_safe_wal_bytes{');
    await expect(promtool(text)).resolves.toBe('');

    // Drained topic: its series stays, at 0; leases lost: 0.
    status = { ...status, pending: 0, topics: [{ topic: 'b.v1', pending: 0, oldestPendingSeconds: null, retrying: 0, deadLettered: 1 }] };
    leased = 0;
    await monitor.refresh();
    text = await registry.metrics();
    expect(sample(text, 'herald_outbox_pending_events', { topic: 'a.v1' })).toBe(0);
    expect(sample(text, 'herald_outbox_oldest_event_age_seconds', { topic: 'a.v1' })).toBe(0);
    expect(sample(text, 'herald_relay_leased_buckets', { store: 'postgres', source: 'polling' })).toBe(0);
    await monitor.stop();
  });

  it('reads the status on its timer only, one read at a time, never per scrape', async () => {
    let reads = 0;
    const monitor = new OutboxStatusMonitor({
      read: async () => {
        reads++;
        return { pending: 0, oldestPendingSeconds: null, deadLettered: 0, relays: 0, topics: [] };
      },
      intervalMs: 60_000,
    });
    const registry = createMetricsRegistry();
    registerOutboxMetrics(registry, monitor);
    await monitor.start();
    for (let i = 0; i < 20; i++) await registry.metrics();
    await Promise.all([monitor.refresh(), monitor.refresh(), monitor.refresh()]);
    expect(reads).toBe(2);
    await monitor.stop();
  });
});

describe('relay readiness', () => {
  it('is not ready until the database answered, the broker was reached and a lease is held; says what is wrong', async () => {
    let held = false;
    const source = { name: 'polling', ownership: () => ({ held, leasedBuckets: held ? 32 : 0 }) } as unknown as RelaySource;
    const publisher = new RecordingPublisher();
    const health = relayReadiness({ source, publisher, brokerProbeMs: 60_000 });
    let report = health.readiness.report();
    expect(report.ready).toBe(false);
    expect(report.checks.database).toMatchObject({ ok: false, error: 'not checked yet' });
    expect(report.checks.leases).toMatchObject({ ok: false, leasedBuckets: 0 });
    health.start();
    await new Promise((r) => setTimeout(r, 20));
    const observer = combineObservers(health.observer, {});
    observer.sourceAnswered!();
    held = true;
    expect(health.readiness.report()).toMatchObject({
      ready: true,
      checks: { broker: { ok: true }, leases: { ok: true, leasedBuckets: 32 } },
    });

    // The broker went away while publishing: not ready until a publish succeeds again.
    observer.paused!(
      new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, 'cannot publish: broker 127.0.0.1:1 refused the connection', { retryable: true }),
    );
    report = health.readiness.report();
    expect(report).toMatchObject({ ready: false, checks: { broker: { ok: false, error: expect.stringContaining('127.0.0.1:1') } } });
    observer.batchPublished!(10, 0.01, true);
    expect(health.readiness.report().ready).toBe(true);

    observer.paused!(new HeraldError(ErrorCodes.DATABASE_ERROR, 'cannot read postgres://herald:s3cret@db:5432/app', { retryable: true }));
    report = health.readiness.report();
    expect(report.checks.database).toMatchObject({ ok: false });
    expect(JSON.stringify(report)).not.toContain('s3cret');
    health.stop();
  });

  it('removes passwords from messages', () => {
    expect(scrubSecrets(new Error('no: postgres://u:pa%40ss@h/db and mysql://root:x@h'))).toBe(
      'no: postgres://u:***@h/db and mysql://root:***@h',
    );
    expect(scrubSecrets('kafka://h:9092 down')).toBe('kafka://h:9092 down');
  });
});

/** promtool's complaints about an exposition ('' when none). */
async function promtool(text: string): Promise<string> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? '' : out || `promtool exited ${code}`));
    child.stdin.end(text);
  });
}
