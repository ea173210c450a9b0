import type { Logger } from '../observe/logger.js';

/** One requeue or drop done through the console. */
export interface ConsoleAction {
  /** ISO time the action finished. */
  readonly at: string;
  readonly action: 'requeue' | 'drop';
  /** What was asked: the event ids given, or every dead letter of a topic (`*` for all topics). */
  readonly scope: { readonly ids: readonly string[] } | { readonly topic: string };
  /** How many dead letters the action was applied to (ids listed when confirmed). */
  readonly asked: number;
  /** How many rows really moved or were deleted. */
  readonly done: number;
  /** The error message when the action failed; nothing changed then. */
  readonly error?: string;
  /** Who asked, as far as the console can tell: the client address. */
  readonly client: string;
}

/**
 * Records every console action twice: as one structured `console action` log line on the
 * console's log (stderr; JSON with `--json`), which is the durable record for log collectors,
 * and in a bounded in-memory list the overview shows as "recent actions". The store port has
 * no audit table, and one would need a migration every store shares, so the log is the record.
 */
export class ActionLog {
  readonly #log: Logger;
  readonly #recent: ConsoleAction[] = [];
  readonly #capacity: number;

  constructor(log: Logger, capacity = 50) {
    this.#log = log;
    this.#capacity = capacity;
  }

  /** Writes the log line and keeps the action in the recent list (newest first). */
  record(action: ConsoleAction): void {
    const scope = 'ids' in action.scope ? { eventIds: action.scope.ids } : { topic: action.scope.topic };
    const fields = { action: action.action, ...scope, asked: action.asked, done: action.done, client: action.client };
    if (action.error === undefined) this.#log.info('console action', fields);
    else this.#log.error('console action failed', { ...fields, error: action.error });
    this.#recent.unshift(action);
    if (this.#recent.length > this.#capacity) this.#recent.pop();
  }

  /** The recent actions, newest first. */
  get recent(): readonly ConsoleAction[] {
    return this.#recent;
  }
}
