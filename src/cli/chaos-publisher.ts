import { HeraldError, ErrorCodes } from '../errors.js';
import type { OutgoingEvent, Publisher } from '../brokers/publisher.js';

/**
 * A publisher wrapper that injects the faults of `herald demo --chaos`, in the demo's own
 * process (it cannot stop the user's broker):
 *
 * - `down(ms)`: for that long every publish rejects with `BROKER_UNAVAILABLE`, as with a broker
 *   that refuses connections; nothing reaches the broker.
 * - `loseNextAck()`: the next publish reaches the broker, and then rejects as if the process had
 *   died between the broker's acknowledgement and its own bookkeeping; whoever retries sends the
 *   same events again.
 *
 * For demonstrations and tests only; Herald never wraps a publisher this way by itself.
 */
export class ChaosPublisher implements Publisher {
  readonly name: string;
  readonly #inner: Publisher;
  #downUntil = 0;
  #loseAck = false;
  /** Counters of the injected faults. */
  readonly faults = { refused: 0, acksLost: 0 };

  constructor(inner: Publisher) {
    this.#inner = inner;
    this.name = `${inner.name} (chaos)`;
  }

  /** Refuses every publish for `ms` from now. */
  down(ms: number): void {
    this.#downUntil = Date.now() + ms;
  }

  /** Makes the next publish deliver and then fail. */
  loseNextAck(): void {
    this.#loseAck = true;
  }

  prepare(topics: readonly string[]): Promise<void> {
    return this.#inner.prepare(topics);
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (Date.now() < this.#downUntil) {
      this.faults.refused++;
      throw new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, `chaos: the broker is down (injected) for ${batch.length} event(s)`, {
        retryable: true,
      });
    }
    await this.#inner.publish(batch);
    if (this.#loseAck) {
      this.#loseAck = false;
      this.faults.acksLost++;
      throw new HeraldError(
        ErrorCodes.BROKER_UNAVAILABLE,
        `chaos: the acknowledgement of ${batch.length} delivered event(s) was lost (injected)`,
        {
          retryable: true,
        },
      );
    }
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
