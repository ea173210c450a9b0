import { HeraldError, ErrorCodes } from '../errors.js';
import type { OutboxStore } from '../store/port.js';
import type { ConsoleBackend, ConsoleDeadLetter } from './backend.js';

/**
 * The most dead letters the common port is asked for at once. The port lists oldest first with
 * a limit only, so paging and filtering happen here, over at most this many rows.
 */
export const portBackendWindow = 10_000;

/**
 * The console over the common store port alone (MySQL, SQLite): status and dead letters
 * (without payloads, which the port keeps in the database) and requeue. Relays, the delivery
 * rate and drop are not in the port, so `can` says they are missing and the console hides them.
 */
export function portConsoleBackend(store: OutboxStore): ConsoleBackend {
  const matching = async (topic: string | undefined): Promise<ConsoleDeadLetter[]> =>
    (await store.deadLetters(portBackendWindow))
      .filter((l) => topic === undefined || l.topic === topic)
      .map((l) => ({ ...l, dataschema: null }));
  return {
    kind: store.kind,
    can: { drop: false, payloads: false, relays: false, deliveryRate: false },
    status: () => store.status(),
    relays: () => Promise.resolve([]),
    deliveredTotal: () => Promise.resolve(undefined),
    deadLetterPage: async (filter, offset, limit) => {
      const all = await matching(filter.topic);
      return { total: all.length, letters: all.slice(offset, offset + limit) };
    },
    deadLetterIds: async (filter, limit) => (await matching(filter.topic)).slice(0, limit).map((l) => l.eventId),
    requeue: (eventIds) => store.requeue(eventIds),
    drop: () =>
      Promise.reject(new HeraldError(ErrorCodes.CONFIG_INVALID, `the ${store.kind} store cannot drop dead letters from the console`)),
    close: async () => undefined,
  };
}
