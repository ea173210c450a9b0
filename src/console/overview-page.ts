import { slotWarnings, statusWarningDefaults } from '../cli/status-warnings.js';
import { bytes, duration } from '../cli/output.js';
import type { MonitoredStatus } from '../observe/outbox-status-monitor.js';
import type { ConsoleAction } from './action-log.js';
import type { ConsoleBackend, ConsoleRelay } from './backend.js';
import { sparkline, type RatePoint } from './delivery-rate.js';
import { html, type SafeHtml } from './html.js';
import { page } from './layout.js';

/** Everything the overview shows, read by the server before rendering. */
export interface OverviewData {
  readonly status: MonitoredStatus | undefined;
  /** Why the status could not be read, when it could not. */
  readonly statusError?: string;
  readonly relays: readonly ConsoleRelay[];
  readonly rate: readonly RatePoint[];
  readonly actions: readonly ConsoleAction[];
  readonly can: ConsoleBackend['can'];
  readonly kind: ConsoleBackend['kind'];
  /** The broker URL the console was given, password removed, or undefined. */
  readonly broker: string | undefined;
  readonly catalog: boolean;
}

/**
 * The overview page: backlog per topic with the oldest event's age (the numbers `herald status`
 * prints), the delivery-rate sparkline, relays with their buckets or the replication slot with
 * its lag and warnings, and the recent console actions. Stable hooks for tests:
 * `tr.topic[data-topic]` with `td[data-field=pending|oldest|retrying|dead]`, `#totals [data-field]`,
 * `tr.relay[data-relay]`, `#slot`, `tr.action[data-action]`.
 */
export function renderOverview(d: OverviewData): string {
  return page(
    { title: 'Overview', current: 'overview', catalog: d.catalog },
    html` ${d.statusError === undefined ? '' : html`<p class="warning" role="alert">cannot read the outbox status: ${d.statusError}</p>`}
      ${d.status ? backlog(d.status) : html`<p class="muted">no status read yet</p>`}
      <h2>Delivery rate</h2>
      ${d.can.deliveryRate ? sparkline(d.rate) : html`<p class="muted">the ${d.kind} store has no delivery counter; watch the backlog instead</p>`}
      ${relays(d)} ${d.status?.slot ? slot(d.status) : ''}
      <h2>Recent actions</h2>
      ${actions(d.actions)}
      <p class="muted">Store: ${d.kind}. ${d.broker === undefined ? 'No broker given.' : html`Broker: <code>${d.broker}</code>.`}</p>`,
  );
}

function backlog(s: MonitoredStatus): SafeHtml {
  return html`<h2>Backlog</h2>
    <p id="totals">
      pending <strong data-field="pending">${s.pending}</strong>, oldest
      <strong data-field="oldest">${duration(s.oldestPendingSeconds)}</strong>, dead-lettered
      <a href="/dead-letters"><strong data-field="dead">${s.deadLettered}</strong></a
      >, live relays <strong data-field="relays">${s.relays}</strong>
    </p>
    ${
      s.topics.length === 0
        ? html`<p class="muted">no events pending and no dead letters</p>`
        : html`<table id="topics">
            <thead>
              <tr>
                <th>topic</th>
                <th>pending</th>
                <th>oldest</th>
                <th>retrying</th>
                <th>dead letters</th>
              </tr>
            </thead>
            <tbody>
              ${s.topics.map(
                (t) =>
                  html`<tr class="topic" data-topic="${t.topic}">
                    <th>${t.topic}</th>
                    <td class="num" data-field="pending">${t.pending}</td>
                    <td class="num" data-field="oldest" data-seconds="${t.oldestPendingSeconds ?? ''}">
                      ${duration(t.oldestPendingSeconds)}
                    </td>
                    <td class="num" data-field="retrying">${t.retrying}</td>
                    <td class="num" data-field="dead">
                      ${t.deadLettered > 0 ? html`<a href="/dead-letters?topic=${encodeURIComponent(t.topic)}">${t.deadLettered}</a>` : 0}
                    </td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
}

function relays(d: OverviewData): SafeHtml {
  if (!d.can.relays)
    return html`<h2>Relays</h2>
      <p class="muted">the ${d.kind} store does not list relays; live relays: ${d.status?.relays ?? '?'}</p>`;
  return html`<h2>Relays</h2>
    ${
      d.relays.length === 0
        ? html`<p class="muted">
            no polling relay seen in the last minute${d.status?.slot ? ' (a logical relay streams the slot below)' : ''}
          </p>`
        : html`<table id="relays">
            <thead>
              <tr>
                <th>relay</th>
                <th>host</th>
                <th>pid</th>
                <th>seen</th>
                <th>leased buckets</th>
              </tr>
            </thead>
            <tbody>
              ${d.relays.map(
                (r) =>
                  html`<tr class="relay" data-relay="${r.id}">
                    <td><code>${r.id}</code></td>
                    <td>${r.host}</td>
                    <td class="num">${r.pid}</td>
                    <td>${duration(r.seenSecondsAgo)} ago</td>
                    <td data-field="buckets">${r.buckets.length === 0 ? html`<span class="muted">none</span>` : r.buckets.join(', ')}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
}

function slot(s: MonitoredStatus): SafeHtml {
  const sl = s.slot!;
  // The same thresholds `herald status` warns at (256 MiB of unconfirmed WAL, WAL about to go).
  const warnings = slotWarnings(sl, statusWarningDefaults.maxLagBytes);
  return html`<h2>Replication slot</h2>
    <dl id="slot" data-slot="${sl.slot}">
      <dt>slot</dt>
      <dd><code>${sl.slot}</code>: ${sl.active ? html`<span class="ok">streaming</span>` : 'no relay streaming'}</dd>
      <dt>lag</dt>
      <dd data-field="lag-bytes">${bytes(sl.lagBytes)} (${sl.lagSeconds === null ? 'no lag measured' : duration(sl.lagSeconds)})</dd>
      <dt>last delivery</dt>
      <dd>${sl.lastDeliverySeconds === null ? 'none yet' : `${duration(sl.lastDeliverySeconds)} ago`}</dd>
      <dt>WAL</dt>
      <dd>${sl.walStatus ?? 'unknown'}${sl.safeWalBytes === null ? '' : `, ${bytes(sl.safeWalBytes)} until invalidation`}</dd>
      <dt>parked</dt>
      <dd>${sl.parked}</dd>
    </dl>
    ${warnings.map((w) => html`<p class="warning">${w}</p>`)}`;
}

function actions(list: readonly ConsoleAction[]): SafeHtml {
  if (list.length === 0)
    return html`<p class="muted">none since this console started (every action is also logged as a <code>console action</code> line)</p>`;
  return html`<table id="actions">
    <thead>
      <tr>
        <th>time</th>
        <th>action</th>
        <th>scope</th>
        <th>asked</th>
        <th>done</th>
        <th>client</th>
      </tr>
    </thead>
    <tbody>
      ${list.map(
        (a) =>
          html`<tr class="action" data-action="${a.action}" data-done="${a.done}">
            <td>${a.at}</td>
            <td>${a.action}</td>
            <td>
              ${'ids' in a.scope ? html`${a.scope.ids.length} id(s): <code>${a.scope.ids.slice(0, 3).join(', ')}${a.scope.ids.length > 3 ? ', …' : ''}</code>` : a.scope.topic === '*' ? 'every topic' : html`topic <code>${a.scope.topic}</code>`}
            </td>
            <td class="num">${a.asked}</td>
            <td class="num">${a.done}</td>
            <td>${a.client}${a.error === undefined ? '' : html` <span class="warning">${a.error}</span>`}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
