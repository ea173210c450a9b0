import type { OutboxStore } from '../store/port.js';

/** Dead letters moved per transaction by {@link requeueInBatches}. */
export const requeueBatchSize = 1000;

/**
 * Moves dead letters back into the outbox `batchSize` at a time, oldest first, calling
 * `onProgress(moved, total)` after each batch. Each batch is one transaction of the store's
 * `requeue` (an event is either still a dead letter or back in the outbox, never both, never
 * lost), so an interrupted run leaves the rest as dead letters and running it again finishes the
 * job. With `eventIds`, only those; without, the dead letters there were at the start (at most
 * that many moves, so an event dead-lettered again meanwhile is not requeued in a loop).
 * Resolves to how many moved.
 */
export async function requeueInBatches(
  store: OutboxStore,
  eventIds: readonly string[] | undefined,
  onProgress: (moved: number, total: number) => void,
  batchSize = requeueBatchSize,
): Promise<number> {
  let moved = 0;
  if (eventIds !== undefined) {
    for (let i = 0; i < eventIds.length; i += batchSize) {
      moved += await store.requeue(eventIds.slice(i, i + batchSize));
      onProgress(Math.min(i + batchSize, eventIds.length), eventIds.length);
    }
    return moved;
  }
  const total = (await store.status()).deadLettered;
  while (moved < total) {
    const ids = (await store.deadLetters(Math.min(batchSize, total - moved))).map((l) => l.eventId);
    if (ids.length === 0) break;
    const n = await store.requeue(ids);
    moved += n;
    onProgress(moved, total);
    // Another requeue took them first: nothing is left for this one to do.
    if (n === 0) break;
  }
  return moved;
}
