import { Gauge, type Registry } from 'prom-client';
import type { OutboxStatusMonitor } from './outbox-status-monitor.js';

/** The WAL states of a replication slot, each a series of `herald_slot_wal_status`. */
const WAL_STATES = ['reserved', 'extended', 'unreserved', 'lost'] as const;

/**
 * Registers the outbox gauges, read from what `monitor` last read (never from the database at
 * scrape time): `herald_outbox_pending_events{topic}`, `herald_outbox_oldest_event_age_seconds{topic}`,
 * `herald_outbox_retrying_events{topic}`, `herald_outbox_dead_letters{topic}`,
 * `herald_outbox_status_age_seconds`, and, when the store reports a replication slot,
 * `herald_slot_lag_bytes`, `herald_slot_lag_seconds`, `herald_slot_safe_wal_bytes`,
 * `herald_slot_active`, `herald_slot_parked_events`, `herald_slot_delivered_not_deleted_events` and
 * `herald_slot_wal_status{status}`.
 * Labels are topics and the slot's name only. A topic once seen stays at 0 when drained, so
 * alerts and graphs see the drop rather than a vanished series.
 */
export function registerOutboxMetrics(registry: Registry, monitor: OutboxStatusMonitor): void {
  const seen = new Set<string>();
  const registers = [registry];
  // Registered first, so collected first: it refreshes every outbox gauge below from the monitor
  // before they are written out (prom-client collects in registration order).
  new Gauge({
    name: 'herald_outbox_status_age_seconds',
    help: 'Seconds since the outbox status behind the herald_outbox_* and herald_slot_* gauges was read.',
    registers,
    collect() {
      const status = monitor.status;
      const at = monitor.readAt;
      this.set(at === undefined ? NaN : (Date.now() - at) / 1000);
      if (!status) return;
      for (const t of status.topics) seen.add(t.topic);
      const byTopic = new Map(status.topics.map((t) => [t.topic, t]));
      for (const topic of seen) {
        const t = byTopic.get(topic);
        pending.set({ topic }, t?.pending ?? 0);
        oldest.set({ topic }, t?.oldestPendingSeconds ?? 0);
        retrying.set({ topic }, t?.retrying ?? 0);
        dead.set({ topic }, t?.deadLettered ?? 0);
      }
    },
  });
  const pending = new Gauge({
    name: 'herald_outbox_pending_events',
    help: 'Events in the outbox not yet delivered, per topic.',
    labelNames: ['topic'],
    registers,
  });
  const oldest = new Gauge({
    name: 'herald_outbox_oldest_event_age_seconds',
    help: 'Age of the oldest undelivered outbox event, per topic (0 when none), as of the last status read.',
    labelNames: ['topic'],
    registers,
  });
  const retrying = new Gauge({
    name: 'herald_outbox_retrying_events',
    help: 'Pending events waiting for a retry after a refusal, per topic.',
    labelNames: ['topic'],
    registers,
  });
  const dead = new Gauge({
    name: 'herald_outbox_dead_letters',
    help: 'Events in the dead-letter table, per topic.',
    labelNames: ['topic'],
    registers,
  });
  registerSlotMetrics(registry, monitor);
}

function registerSlotMetrics(registry: Registry, monitor: OutboxStatusMonitor): void {
  const registers = [registry];
  const slotGauge = (name: string, help: string, pick: (s: NonNullable<OutboxStatusMonitor['status']>['slot'] & object) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['slot'],
      registers,
      collect() {
        this.reset();
        const s = monitor.status?.slot;
        const v = s?.exists ? pick(s) : null;
        if (s && v !== null) this.set({ slot: s.slot }, v);
      },
    });
  slotGauge('herald_slot_lag_bytes', 'WAL the replication slot keeps that the relay has not confirmed, in bytes.', (s) => s.lagBytes);
  slotGauge(
    'herald_slot_lag_seconds',
    'Replication lag PostgreSQL measured for the streaming relay (flush_lag), in seconds; absent when idle.',
    (s) => s.lagSeconds,
  );
  slotGauge(
    'herald_slot_safe_wal_bytes',
    'WAL that can still be written before PostgreSQL invalidates the slot (absent: no limit).',
    (s) => s.safeWalBytes,
  );
  slotGauge('herald_slot_active', '1 while a relay streams the slot.', (s) => (s.active ? 1 : 0));
  slotGauge('herald_slot_parked_events', 'Events held back in relay_parked behind a failed event of their key.', (s) => s.parked);
  slotGauge(
    'herald_slot_delivered_not_deleted_events',
    "Outbox rows older than the slot's catalog_xmin: delivered but left behind; no relay sends or deletes them (see herald status).",
    (s) => s.deliveredNotDeleted ?? null,
  );
  new Gauge({
    name: 'herald_slot_wal_status',
    help: "The slot's wal_status: 1 for the current one of reserved, extended, unreserved, lost.",
    labelNames: ['slot', 'status'],
    registers,
    collect() {
      this.reset();
      const s = monitor.status?.slot;
      if (!s?.exists) return;
      for (const status of WAL_STATES) this.set({ slot: s.slot, status }, s.walStatus === status ? 1 : 0);
    },
  });
}
