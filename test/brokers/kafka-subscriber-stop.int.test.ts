import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KafkaSubscriber } from '../../src/brokers/kafka/subscriber.js';
import { KAFKA, createTopic, uniqueName } from '../support/services.js';

/** Errors nobody listened to: an unhandled stream 'error' would end a real process. */
let unheard: unknown[] = [];
const listen = (err: unknown): void => void unheard.push(err);
beforeEach(() => {
  unheard = [];
  process.on('uncaughtException', listen);
  process.on('unhandledRejection', listen);
});
afterEach(() => {
  process.off('uncaughtException', listen);
  process.off('unhandledRejection', listen);
});

async function topic(): Promise<string> {
  const name = uniqueName('stop').replace('_', '.');
  await createTopic(name);
  return name;
}

const subscriber = (t: string): KafkaSubscriber =>
  new KafkaSubscriber({ brokers: KAFKA, topics: [t], group: uniqueName('stop'), timeoutMs: 2_000, retries: 1 });

/** Calls `onStream` synchronously when @platformatic/kafka creates a messages stream, before the stream starts. */
function onStreamCreated(onStream: () => void): () => void {
  const channel = 'plt:kafka:instances';
  const handler = (message: unknown): void => {
    if ((message as { type?: string }).type === 'messages-stream') onStream();
  };
  subscribe(channel, handler);
  return () => unsubscribe(channel, handler);
}

describe('kafka subscriber: stopped while joining its group', () => {
  it('ends quietly when closed at the very moment its stream is created (the stream then fails on the closed consumer)', async () => {
    const t = await topic();
    for (let i = 0; i < 5; i++) {
      const s = subscriber(t);
      // The stream reads its offsets on the next tick; closing now makes that read fail before
      // the join has even returned the stream to the subscriber.
      const off = onStreamCreated(() => void s.close());
      try {
        const first = s.batches().next();
        await expect(first).resolves.toMatchObject({ done: true });
        await s.close();
      } finally {
        off();
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(unheard).toEqual([]);
  });

  it('ends quietly when its caller aborts at the moment the stream is created, and closes it', async () => {
    const t = await topic();
    for (let i = 0; i < 5; i++) {
      const s = subscriber(t);
      const stop = new AbortController();
      const off = onStreamCreated(() => {
        stop.abort();
        void s.close();
      });
      try {
        await expect(s.batches(stop.signal).next()).resolves.toMatchObject({ done: true });
      } finally {
        off();
        await s.close();
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(unheard).toEqual([]);
  });

  it('survives start/stop pairs at any moment of the join', async () => {
    const t = await topic();
    for (const delayMs of [0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 600]) {
      const s = subscriber(t);
      const stop = new AbortController();
      const first = s.batches(stop.signal).next();
      await new Promise((r) => setTimeout(r, delayMs));
      stop.abort();
      await s.close();
      await expect(first).resolves.toMatchObject({ done: true });
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(unheard).toEqual([]);
  });
});
