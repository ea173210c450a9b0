import { performance } from 'node:perf_hooks';
import { HeraldError, ErrorCodes, isHeraldError } from '../errors.js';
import type { LeaseFencing, LeaseToken, RelayRecord } from './source.js';

/** One bucket this relay claimed or renewed: its epoch now and the owners it took it over from. */
export interface ClaimedBucket {
  readonly bucket: number;
  readonly epoch: string;
  /** Relay instance ids whose lease of this bucket was taken over without a clean release. */
  readonly staleOwners: readonly string[];
}

/**
 * What a polling source knows, in memory, about the leases it holds: each bucket's epoch, until
 * when the leases run (by this process's monotonic clock, so that a wall-clock jump on the relay's
 * host changes nothing) and which stale owners are still to be fenced. Pure: no I/O.
 *
 * The database is the authority (deliveries are recorded only under the epoch they were read
 * under); this book lets the relay refuse early, before it publishes, without a round trip.
 */
export class LeaseBook {
  readonly #leaseMs: number;
  readonly #identity: (owner: string) => string;
  readonly #now: () => number;
  #epochs = new Map<number, string>();
  #until = 0;
  #renewedAt = Number.NEGATIVE_INFINITY;
  #stale = new Set<string>();

  /**
   * @param leaseMs how long a claim lasts.
   * @param identity maps a relay instance id to its producer identity (Kafka transactional id).
   * @param now a monotonic clock in ms; `performance.now` unless a test passes its own.
   */
  constructor(leaseMs: number, identity: (owner: string) => string, now: () => number = () => performance.now()) {
    this.#leaseMs = leaseMs;
    this.#identity = identity;
    this.#now = now;
  }

  /** The buckets held, in order. */
  get buckets(): number[] {
    return [...this.#epochs.keys()].sort((a, b) => a - b);
  }

  /** True when it is time to renew (a third of the lease has passed since the last renewal). */
  get renewDue(): boolean {
    return this.#now() - this.#renewedAt > this.#leaseMs / 3;
  }

  /** True while more than half of the lease is left: only then does a new batch start. */
  get roomForBatch(): boolean {
    return this.#epochs.size > 0 && this.#now() < this.#until - this.#leaseMs / 2;
  }

  /** Buckets held now by the local clock (0 once the lease ran out), for health and metrics. */
  get heldCount(): number {
    return this.#now() < this.#until ? this.#epochs.size : 0;
  }

  /** Reads the clock before sending a claim: the lease is counted from then, never from the answer. */
  askedAt(): number {
    return this.#now();
  }

  /** Records the outcome of a claim sent at `askedAt`: exactly the buckets in `claimed` are held. */
  renewed(claimed: readonly ClaimedBucket[], askedAt: number): void {
    this.#epochs = new Map(claimed.map((c) => [c.bucket, c.epoch]));
    // Kept until fenced: a source that learns of stale owners only at the claim that took their
    // buckets (MySQL) must not forget them at the next renewal.
    for (const owner of claimed.flatMap((c) => c.staleOwners)) this.#stale.add(owner);
    this.#renewedAt = askedAt;
    this.#until = askedAt + this.#leaseMs;
  }

  /** Forgets every lease, so that the next read claims afresh (after `LEASE_LOST`). */
  lost(): void {
    this.#epochs.clear();
    this.#renewedAt = Number.NEGATIVE_INFINITY;
    this.#until = 0;
  }

  /** The token a record of `bucket` is read under; undefined when the bucket is not held. */
  token(bucket: number): LeaseToken | undefined {
    const epoch = this.#epochs.get(bucket);
    return epoch === undefined ? undefined : { bucket, epoch };
  }

  /** The token of a bucket a row was just read from; `LEASE_LOST` if it is not held (a bug, not a race: only held buckets are read). */
  heldToken(bucket: number): LeaseToken {
    const token = this.token(bucket);
    if (token === undefined) throw leaseLost(`read a row of bucket ${String(bucket)}, which this relay does not hold`);
    return token;
  }

  /**
   * Throws `LEASE_LOST` unless every record's lease is held now, with the epoch it was read under,
   * and by the local clock has not run out. A relay woken from a stall past its lease stops here.
   */
  check(records: readonly RelayRecord[]): void {
    const expired = this.#now() >= this.#until;
    const moved = records.find((r) => r.lease === undefined || this.#epochs.get(r.lease.bucket) !== r.lease.epoch);
    if (!expired && moved === undefined) return;
    const why = expired
      ? `the lease ran out ${Math.round(this.#now() - this.#until)} ms ago`
      : `bucket ${moved?.lease?.bucket ?? '?'} is no longer held with epoch ${moved?.lease?.epoch ?? '?'}`;
    throw leaseLost(`cannot publish ${records.length} event(s): ${why}; another relay may own them now`);
  }

  /** This relay's identity and the stale owners still to fence. */
  fencing(self: string): LeaseFencing {
    return { identity: this.#identity(self), previous: [...this.#stale].map(this.#identity) };
  }

  /** Stops reporting the given identities; returns the instance ids they came from. */
  fenced(identities: readonly string[]): string[] {
    const done = new Set(identities);
    const owners = [...this.#stale].filter((o) => done.has(this.#identity(o)));
    for (const o of owners) this.#stale.delete(o);
    return owners;
  }
}

/**
 * The `LEASE_LOST` error of a relay that no longer owns what it read; retryable. `recorded`: how
 * many of the events were recorded delivered all the same (those of buckets still held), read
 * back with {@link recordedDespiteLeaseLost}.
 */
export function leaseLost(message: string, recorded = 0): HeraldError {
  return new HeraldError(ErrorCodes.LEASE_LOST, message, { retryable: true, ...(recorded > 0 ? { details: { recorded } } : {}) });
}

/** How many events a `LEASE_LOST` rejection of `delivered` recorded anyway; 0 for any other error. */
export function recordedDespiteLeaseLost(err: unknown): number {
  if (!isHeraldError(err, ErrorCodes.LEASE_LOST)) return 0;
  const recorded = err.details.recorded;
  return typeof recorded === 'number' && Number.isInteger(recorded) && recorded > 0 ? recorded : 0;
}

/** The lease a polling source read `record` under; `CONFIG_INVALID` for a record of another source. */
export function leaseOfRecord(record: RelayRecord): LeaseToken {
  if (record.lease === undefined)
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `event ${record.outgoing.event.id} was not read by this polling source (it has no lease)`,
    );
  return record.lease;
}
