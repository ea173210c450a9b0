import { describe, expect, it } from 'vitest';
import type { OutgoingEvent, Publisher } from '../../src/brokers/publisher.js';
import { ErrorCodes, HeraldError } from '../../src/errors.js';
import { Relay } from '../../src/relay/relay.js';
import type { LeaseToken, RelayRecord, RelaySource } from '../../src/relay/source.js';

/** One outbox row of the fake source: its position, key and sequence number within the key. */
interface Row {
  readonly position: string;
  readonly key: string;
  attempts: number;
  retryAt: number;
}

/**
 * A source that behaves as the polling sources do (rows in position order, a key held back while
 * its head waits for a retry, a read ahead that excludes what is in flight), with a lease epoch
 * that a test can move, failures on demand, and a log of every call in the order they happened.
 */
class ScriptedSource implements RelaySource {
  readonly name = 'scripted';
  readonly log: string[] = [];
  readonly rows: Row[] = [];
  readonly checked: string[][] = [];
  epoch = '1';
  /** Events recorded delivered so far. */
  recorded = 0;
  /** Rejects the next `delivered` call with this error. */
  failDelivered: HeraldError | undefined;
  /** Holds `readAhead` until this resolves (to prove it runs while the publish is awaited). */
  readAheadGate: Promise<void> | undefined;
  #stop: (() => void) | undefined;

  constructor(keys: string[]) {
    keys.forEach((key, i) => this.rows.push({ position: String(i + 1), key, attempts: 0, retryAt: 0 }));
  }

  async start(): Promise<void> {}

  async next(max: number): Promise<RelayRecord[]> {
    const batch = this.#read(max, new Set());
    this.log.push(`next ${positions(batch)}`);
    return batch;
  }

  async readAhead(max: number, inFlight: readonly RelayRecord[]): Promise<RelayRecord[]> {
    await this.readAheadGate;
    const batch = this.#read(max, new Set(inFlight.map((r) => r.position)));
    this.log.push(`readAhead ${positions(batch)}`);
    return batch;
  }

  checkLease(records: readonly RelayRecord[]): void {
    this.checked.push(records.map((r) => r.position));
    const moved = records.find((r) => r.lease?.epoch !== this.epoch);
    if (moved) throw new HeraldError(ErrorCodes.LEASE_LOST, `event ${moved.position} was read under another epoch`, { retryable: true });
  }

  async waitForWork(ms: number, signal: AbortSignal): Promise<void> {
    if (this.rows.length === 0) this.#stop?.();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.min(ms, 5));
      signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  async delivered(records: readonly RelayRecord[]): Promise<void> {
    const failure = this.failDelivered;
    this.failDelivered = undefined;
    this.log.push(`delivering ${positions(records)}`);
    // A DELETE round trip, shorter than a publish: the next publish starts while it runs.
    await new Promise((r) => setTimeout(r, 1));
    this.log.push(`delivered ${positions(records)}${failure ? ' FAILED' : ''}`);
    if (failure) throw failure;
    this.recorded += records.length;
    const done = new Set(records.map((r) => r.position));
    this.#remove((row) => done.has(row.position));
  }

  async retryLater(record: RelayRecord, _error: string, _delayMs: number): Promise<void> {
    this.log.push(`retryLater ${record.position}`);
    const row = this.rows.find((r) => r.position === record.position)!;
    row.attempts++;
    // Due at once, so the test needs no clock; what matters is that the key is read again in order.
    row.retryAt = 0;
  }

  async deadLetter(record: RelayRecord): Promise<void> {
    this.log.push(`deadLetter ${record.position}`);
    this.#remove((row) => row.position === record.position);
  }

  async close(): Promise<void> {}

  /** Resolves once the source is empty and the relay asks for work. */
  drained(): Promise<void> {
    return new Promise((resolve) => (this.#stop = resolve));
  }

  #read(max: number, excluded: Set<string>): RelayRecord[] {
    const now = Date.now();
    const held = new Set(this.rows.filter((r) => r.retryAt > now).map((r) => r.key));
    const lease: LeaseToken = { bucket: 0, epoch: this.epoch };
    return this.rows
      .filter((r) => !held.has(r.key) && !excluded.has(r.position))
      .slice(0, max)
      .map((r) => ({
        position: r.position,
        attempts: r.attempts,
        lease,
        outgoing: {
          topic: 't',
          data: '{}',
          event: {
            specversion: '1.0',
            id: r.position,
            type: 'x',
            source: '/test',
            time: '2026-01-01T00:00:00Z',
            datacontenttype: 'application/json',
            partitionkey: r.key,
          },
        } as unknown as OutgoingEvent,
      }));
  }

  #remove(match: (row: Row) => boolean): void {
    for (let i = this.rows.length - 1; i >= 0; i--) if (match(this.rows[i]!)) this.rows.splice(i, 1);
  }
}

/** A publisher that logs each call in the source's log, fails on demand, and notes any overlap of calls. */
class ScriptedPublisher implements Publisher {
  readonly name = 'scripted';
  readonly sent: string[] = [];
  /** Events handed to publish() so far, stored or not. */
  handedOver = 0;
  /** As a transactional Kafka publisher says: each call has a fixed cost. */
  wholeBatches = false;
  #inFlight = 0;
  overlapped = false;
  /** Decides, per call, whether it fails and how. */
  refuse: (batch: readonly OutgoingEvent[]) => HeraldError | undefined = () => undefined;

  constructor(readonly log: string[]) {}

  async prepare(): Promise<void> {}
  async close(): Promise<void> {}

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#inFlight > 0) this.overlapped = true;
    this.#inFlight++;
    this.handedOver += batch.length;
    const ids = batch.map((e) => e.event.id).join(',');
    this.log.push(`publish ${ids}`);
    try {
      // A broker round trip: long enough for a read ahead to run meanwhile.
      await new Promise((r) => setTimeout(r, 2));
      const refusal = this.refuse(batch);
      if (refusal) {
        this.log.push(`refused ${ids}`);
        throw refusal;
      }
      this.sent.push(...batch.map((e) => e.event.id));
    } finally {
      this.#inFlight--;
    }
  }
}

function positions(records: readonly RelayRecord[]): string {
  return records.map((r) => r.position).join(',');
}

async function drain(source: ScriptedSource, publisher: ScriptedPublisher, batchSize = 2): Promise<Relay> {
  const relay = new Relay({ source, publisher, batchSize, pollIntervalMs: 5, retryBaseMs: 1, retryMaxMs: 2 });
  const drained = source.drained();
  const running = relay.run();
  await Promise.race([drained, running]);
  await relay.stop();
  await running;
  return relay;
}

/** The ids each key received, in the order the broker stored them. */
function perKey(source: { keys: string[] }, sent: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of sent) (out[source.keys[Number(id) - 1]!] ??= []).push(id);
  return out;
}

describe('relay pipelining', () => {
  it('reads the next batch and records the last chunk while a chunk is published, never overlaps publishes, and keeps the source order', async () => {
    const keys = ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a'];
    const source = new ScriptedSource(keys);
    const publisher = new ScriptedPublisher(source.log);
    let opened!: () => void;
    // The read ahead finishes only after the first publish started: it ran alongside it.
    source.readAheadGate = new Promise<void>((r) => (opened = r));
    const original = publisher.publish.bind(publisher);
    publisher.publish = (batch) => {
      const p = original(batch);
      opened();
      return p;
    };
    const relay = await drain(source, publisher, 4);
    expect(publisher.overlapped).toBe(false);
    expect(publisher.sent).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(relay.stats.delivered).toBe(9);
    // A batch of 4 goes out in chunks of 2; the read ahead of 5..8 ran during the publish of 1,2.
    expect(source.log.slice(0, 3)).toEqual(['next 1,2,3,4', 'publish 1,2', 'readAhead 5,6,7,8']);
    expect(source.log.filter((l) => l.startsWith('publish'))).toEqual([
      'publish 1,2',
      'publish 3,4',
      'publish 5,6',
      'publish 7,8',
      'publish 9',
    ]);
    expect(source.log.filter((l) => l.startsWith('next'))).toEqual(['next 1,2,3,4', 'next ']);
    // Each chunk is published while the one before it is being recorded, and only after it was published.
    for (const [chunk, before] of [
      ['3,4', '1,2'],
      ['5,6', '3,4'],
      ['7,8', '5,6'],
      ['9', '7,8'],
    ]) {
      expect(source.log.indexOf(`publish ${chunk}`)).toBeGreaterThan(source.log.indexOf(`delivering ${before}`));
      expect(source.log.indexOf(`publish ${chunk}`)).toBeLessThan(source.log.indexOf(`delivered ${before}`));
    }
    // The read ahead made while 3,4 was still being recorded left 3,4 out.
    expect(source.log).toContain('readAhead 9');
    // Each chunk went through the lease check before it was published.
    expect(source.checked).toEqual([['1', '2'], ['3', '4'], ['5', '6'], ['7', '8'], ['9']]);
  });

  it('never has more than one batch sent and not yet recorded, whatever the batch size (the SIGKILL bound)', async () => {
    for (const batchSize of [1, 2, 3, 4, 5]) {
      const source = new ScriptedSource(Array.from({ length: 23 }, (_, i) => `k${i % 3}`));
      const publisher = new ScriptedPublisher(source.log);
      let most = 0;
      const original = publisher.publish.bind(publisher);
      publisher.publish = (batch) => {
        most = Math.max(most, publisher.handedOver + batch.length - source.recorded);
        return original(batch);
      };
      await drain(source, publisher, batchSize);
      expect(publisher.sent).toHaveLength(23);
      expect(most, `batch size ${batchSize}`).toBeLessThanOrEqual(batchSize);
      // From a batch of 2 up, a chunk really is published while the one before it is recorded.
      if (batchSize >= 2) expect(most, `batch size ${batchSize}`).toBeGreaterThan(Math.ceil(batchSize / 2));
    }
  });

  it('sends each batch in one call to a publisher whose calls cost a fixed price (Kafka transactions), recording it before the next', async () => {
    const source = new ScriptedSource(['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b', 'a']);
    const publisher = new ScriptedPublisher(source.log);
    publisher.wholeBatches = true;
    await drain(source, publisher, 4);
    expect(source.log.filter((l) => l.startsWith('publish'))).toEqual(['publish 1,2,3,4', 'publish 5,6,7,8', 'publish 9']);
    expect(source.log.indexOf('publish 5,6,7,8')).toBeGreaterThan(source.log.indexOf('delivered 1,2,3,4'));
    expect(source.log.indexOf('publish 9')).toBeGreaterThan(source.log.indexOf('delivered 5,6,7,8'));
    expect(publisher.sent).toHaveLength(9);
  });

  it('drops the batch read ahead when the broker refuses part of a chunk: nothing after it is sent, the later events of the key wait for its retry', async () => {
    // Batch 1 is (1 a, 2 b, 3 a, 4 b) in chunks (1,2), (3,4); the read ahead holds 5..8. Event 1 is refused twice.
    const keys = ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'];
    const source = new ScriptedSource(keys);
    const publisher = new ScriptedPublisher(source.log);
    let refusals = 0;
    publisher.refuse = (batch) =>
      batch.some((e) => e.event.id === '1') && refusals++ < 2
        ? new HeraldError(ErrorCodes.PUBLISH_FAILED, 'refused', { retryable: true })
        : undefined;
    await drain(source, publisher, 4);
    expect(publisher.overlapped).toBe(false);
    // 3 (key a) was read in the same batch but reaches the broker only after 1 did.
    expect(perKey({ keys }, publisher.sent)).toEqual({ a: ['1', '3', '5', '7'], b: ['2', '4', '6', '8'] });
    const retried = source.log.indexOf('retryLater 1');
    expect(retried).toBeGreaterThan(0);
    expect(source.log.findIndex((l) => l.startsWith('publish') && l.includes('3'))).toBeGreaterThan(retried);
    // The rest of the batch and the read ahead were dropped: next() reads again from 1.
    expect(source.log.slice(retried)).toContain('next 1,3,4,5');
  });

  it('sends nothing newer after recording a chunk failed: the pipeline stops and the failed chunk goes again first', async () => {
    const keys = ['a', 'b', 'a', 'b', 'a', 'b'];
    const source = new ScriptedSource(keys);
    const publisher = new ScriptedPublisher(source.log);
    source.failDelivered = new HeraldError(ErrorCodes.DATABASE_ERROR, 'cannot mark events delivered: connection lost', {
      retryable: true,
    });
    await drain(source, publisher, 4);
    const failed = source.log.indexOf('delivered 1,2 FAILED');
    expect(failed).toBeGreaterThan(0);
    // 3,4 was already on its way while 1,2 was recorded; nothing after it went out, and 3,4 was not recorded.
    expect(source.log.slice(0, failed).filter((l) => l.startsWith('publish'))).toEqual(['publish 1,2', 'publish 3,4']);
    expect(source.log.slice(failed).find((l) => l.startsWith('publish'))).toBe('publish 1,2');
    expect(source.log.indexOf('delivering 3,4')).toBeGreaterThan(source.log.indexOf('next 1,2,3,4', failed));
    // At least once, in order per key: the duplicates are at most one batch, and each key's first copies are in order.
    expect(publisher.sent).toEqual(['1', '2', '3', '4', '1', '2', '3', '4', '5', '6']);
  });

  it('drops the batch read ahead on LEASE_LOST when recording, and publishes it only after reading it again under the new lease', async () => {
    const keys = ['a', 'b', 'a', 'b', 'a'];
    const source = new ScriptedSource(keys);
    const publisher = new ScriptedPublisher(source.log);
    source.failDelivered = new HeraldError(ErrorCodes.LEASE_LOST, 'bucket 0 moved on', { retryable: true });
    const relay = await drain(source, publisher, 4);
    expect(relay.stats.leaseLost).toBe(1);
    const lost = source.log.indexOf('delivered 1,2 FAILED');
    expect(source.log[lost + 1]).toBe('next 1,2,3,4');
    expect(source.log.slice(0, lost).filter((l) => l.startsWith('publish'))).toEqual(['publish 1,2', 'publish 3,4']);
    expect(source.log.indexOf('publish 5')).toBeGreaterThan(lost);
  });

  it('never publishes a batch read ahead under a lease epoch that moved on while the batch before it was in flight', async () => {
    const keys = ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b'];
    const source = new ScriptedSource(keys);
    const publisher = new ScriptedPublisher(source.log);
    // The epoch moves during the publish of 3,4, after the read ahead (5..8) was made under epoch 1.
    publisher.refuse = (batch) => {
      if (source.epoch === '1' && batch.some((e) => e.event.id === '3')) source.epoch = '2';
      return undefined;
    };
    const relay = await drain(source, publisher, 4);
    // The publish of 5,6 under epoch 1 was stopped by the lease check; they went out read again under epoch 2.
    expect(relay.stats.leaseLost).toBeGreaterThanOrEqual(1);
    expect(source.checked[2]).toEqual(['5', '6']);
    expect(source.log.filter((l) => l.startsWith('publish'))).toEqual(['publish 1,2', 'publish 3,4', 'publish 5,6', 'publish 7,8']);
    expect(source.log.indexOf('next 5,6,7,8')).toBeGreaterThan(source.log.indexOf('readAhead 5,6,7,8'));
    expect(publisher.sent).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
  });

  it('drops the batch read ahead when the broker is unreachable, and sends the failed chunk again first', async () => {
    const keys = ['a', 'b', 'a', 'b', 'a', 'b'];
    const source = new ScriptedSource(keys);
    const publisher = new ScriptedPublisher(source.log);
    let down = 1;
    publisher.refuse = () => (down-- > 0 ? new HeraldError(ErrorCodes.BROKER_UNAVAILABLE, 'no broker', { retryable: true }) : undefined);
    await drain(source, publisher, 4);
    expect(source.log.filter((l) => l.startsWith('publish'))).toEqual(['publish 1,2', 'publish 1,2', 'publish 3,4', 'publish 5,6']);
    expect(publisher.sent).toEqual(['1', '2', '3', '4', '5', '6']);
  });

  it('reads ahead only after a full batch (a short one means the source had nothing more)', async () => {
    const source = new ScriptedSource(['a', 'b', 'c']);
    const publisher = new ScriptedPublisher(source.log);
    await drain(source, publisher, 5);
    expect(source.log.filter((l) => l.startsWith('readAhead'))).toEqual([]);
    expect(publisher.sent).toEqual(['1', '2', '3']);
  });
});
