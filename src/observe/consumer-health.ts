import { Reachability, Readiness } from './readiness.js';
import { scrubSecrets } from './scrub.js';

/** The readiness of a consuming process (`herald load`, `herald consume`) and the hooks that feed it. */
export interface ConsumerHealth {
  readonly readiness: Readiness;
  /** Tables or inbox checked and the subscription connected: every check passes from here on. */
  prepared(): void;
  /** A batch committed: the broker and the storage answered. */
  batchDone(): void;
  /** `where` failed (the error is scrubbed of secrets); it stays not ready until the next batch commits. */
  failed(where: 'broker' | 'storage', err: unknown): void;
}

/**
 * `/readyz` of a consumer: `started` (its preparation is done: tables planned and evolved, or the
 * inbox found, and the subscription connected), `broker` and `<storage>` (`warehouse` or
 * `database`: the last outcome of the subscription and of the writes). A failure keeps its check
 * failing until a batch commits again, since only a committed batch proves both work. Every
 * check reads memory, so probing costs nothing.
 */
export function consumerHealth(storage: 'warehouse' | 'database'): ConsumerHealth {
  const started = new Reachability();
  const broker = new Reachability();
  const store = new Reachability();
  started.failed('preparing: planning the storage and connecting the subscription');
  const readiness = new Readiness()
    .add('started', () => started.result())
    .add('broker', () => broker.result())
    .add(storage, () => store.result());
  return {
    readiness,
    prepared() {
      started.ok();
      broker.ok();
      store.ok();
    },
    batchDone() {
      broker.ok();
      store.ok();
    },
    failed(where, err) {
      (where === 'broker' ? broker : store).failed(scrubSecrets(err));
    },
  };
}
