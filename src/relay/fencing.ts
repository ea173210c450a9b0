import type { Publisher } from '../brokers/publisher.js';
import type { RelayRecord, RelaySource } from './source.js';

/**
 * The relay's check before every publish call, so that a relay whose lease moved on while it was
 * stalled publishes nothing after it wakes (where the broker can refuse it) and records nothing:
 *
 * 1. when the publisher can fence at the broker (Kafka transactions), it fences the previous
 *    owners of leases this relay took over from a stalled or dead relay, and keeps a producer
 *    session under this relay's identity;
 * 2. when that session is new, the source confirms the lease with the database: a session started
 *    after the confirmation is fenced by any relay that claims the lease later, and one started
 *    before it was fenced already if the lease had moved;
 * 3. the source checks, by its local monotonic clock, that the records' leases have not run out.
 *
 * The source and the publisher never know each other; this is the only place that joins them.
 */
export class PublishFence {
  readonly #source: RelaySource;
  readonly #publisher: Publisher;

  constructor(source: RelaySource, publisher: Publisher) {
    this.#source = source;
    this.#publisher = publisher;
  }

  /** Resolves when `records` may be published now; rejects with `LEASE_LOST` or a broker error. */
  async beforePublish(records: readonly RelayRecord[]): Promise<void> {
    const fencing = this.#source.fencing?.();
    if (fencing !== undefined) {
      const fresh = this.#publisher.fence ? await this.#publisher.fence(fencing) : false;
      // A publisher that cannot fence still gets the list cleared: there is nothing it could do
      // with it, and the database would otherwise keep every takeover's owner.
      if (fencing.previous.length > 0) await this.#source.fenced?.(fencing.previous);
      if (fresh) await this.#source.confirmLease?.(records);
    }
    this.#source.checkLease?.(records);
  }
}
