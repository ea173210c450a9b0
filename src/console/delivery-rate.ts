import { html, type SafeHtml } from './html.js';

/** One delivery rate between two samples of the delivered counter. */
export interface RatePoint {
  /** End of the interval, in ms since the epoch. */
  readonly at: number;
  /** Events delivered per second over the interval. */
  readonly perSecond: number;
}

/**
 * Delivery rates from periodic samples of a monotonically growing counter, kept in memory only
 * (the console is a viewer; history lives in Prometheus). Holds the last `capacity` intervals. A
 * counter that goes down (statistics reset, server restart) starts a new series instead of
 * showing a negative rate.
 */
export class DeliveryRate {
  readonly #capacity: number;
  readonly #points: RatePoint[] = [];
  #last: { at: number; total: number } | undefined;

  constructor(capacity = 120) {
    this.#capacity = capacity;
  }

  /** Adds a sample of the counter taken at `at` (ms). Samples closer than 1 ms apart are ignored. */
  record(total: number, at = Date.now()): void {
    const last = this.#last;
    if (last && at - last.at < 1) return;
    this.#last = { at, total };
    if (!last || total < last.total) return;
    this.#points.push({ at, perSecond: ((total - last.total) * 1000) / (at - last.at) });
    if (this.#points.length > this.#capacity) this.#points.shift();
  }

  /** The rates, oldest first. */
  get points(): readonly RatePoint[] {
    return this.#points;
  }
}

/**
 * An inline SVG sparkline of `points` (no script, no external request, so it passes the
 * console's CSP), scaled to the largest rate, with the latest and the peak as text beside it.
 */
export function sparkline(points: readonly RatePoint[], width = 360, height = 48): SafeHtml {
  if (points.length === 0) return html`<p class="muted" data-rate="none">no delivery rate yet: it needs two samples</p>`;
  const peak = Math.max(...points.map((p) => p.perSecond));
  const scale = peak > 0 ? (height - 4) / peak : 0;
  const step = points.length > 1 ? width / (points.length - 1) : 0;
  const xy = points.map((p, i) => `${(i * step).toFixed(1)},${(height - 2 - p.perSecond * scale).toFixed(1)}`).join(' ');
  const latest = points.at(-1)!.perSecond;
  return html`<figure class="rate" data-rate="${latest.toFixed(2)}" data-peak="${peak.toFixed(2)}">
    <svg role="img" aria-label="delivered events per second" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
      <polyline
        fill="none"
        stroke="currentColor"
        stroke-width="1.5"
        points="${points.length === 1 ? `0,${xy.split(',')[1]} ${width},${xy.split(',')[1]}` : xy}"
      />
    </svg>
    <figcaption>
      now <strong>${latest.toFixed(1)}</strong> events/s, peak ${peak.toFixed(1)}/s over the last ${points.length} samples
    </figcaption>
  </figure>`;
}
