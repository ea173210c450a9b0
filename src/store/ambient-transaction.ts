import { AsyncLocalStorage } from 'node:async_hooks';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { HeraldEvent } from '../event.js';
import type { AppendInput } from './outbox-rows.js';
import type { OutboxWriter } from './port.js';

const current = new AsyncLocalStorage<unknown>();

/**
 * Runs `fn` with `tx` as the ambient transaction of everything it awaits (AsyncLocalStorage), so
 * code deep in a call chain can append with {@link ambientWriter} without `tx` passed down.
 * Nothing is begun or committed here: `tx` stays the caller's transaction, e.g.
 * `db.transaction((tx) => withTransaction(tx, () => placeOrder(input)))`.
 */
export function withTransaction<T>(tx: unknown, fn: () => T): T {
  return current.run(tx, fn);
}

/** The transaction of the innermost {@link withTransaction} around this call; throws `TRANSACTION_REQUIRED` outside one. */
export function currentTransaction(): unknown {
  const tx = current.getStore();
  if (tx === undefined) {
    throw new HeraldError(
      ErrorCodes.TRANSACTION_REQUIRED,
      'no ambient transaction: call this inside withTransaction(tx, () => ...), or pass the transaction to append(tx, ...)',
    );
  }
  return tx;
}

/** An {@link OutboxWriter} that appends with the ambient transaction instead of a `tx` argument. */
export interface AmbientWriter {
  append<T>(contract: string, data: T, attributes?: Omit<AppendInput<T>, 'contract' | 'data'>): Promise<HeraldEvent<T>>;
  appendMany(inputs: readonly AppendInput[]): Promise<HeraldEvent[]>;
}

/**
 * Wraps any store's writer so that each append uses {@link currentTransaction}: the same
 * validation, the same refusal of a handle that is not a transaction, and `TRANSACTION_REQUIRED`
 * when called outside {@link withTransaction}, so an event can never be written on its own.
 */
export function ambientWriter(writer: OutboxWriter): AmbientWriter {
  return {
    append: (contract, data, attributes) => writer.append(currentTransaction(), contract, data, attributes),
    appendMany: (inputs) => writer.appendMany(currentTransaction(), inputs),
  };
}
