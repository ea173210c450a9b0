/**
 * Waits `ms`, or until `signal` aborts, or until the function handed to `onWake` is called
 * (a notification, new data), whichever comes first. `onWake` receives `undefined` once the wait
 * is over, so a late wake-up call does nothing.
 */
export function waitUntilWoken(ms: number, signal: AbortSignal, onWake: (wake: (() => void) | undefined) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      onWake(undefined);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    onWake(done);
  });
}

/** Waits `ms`, or until `signal` aborts, whichever comes first; never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return waitUntilWoken(ms, signal, () => undefined);
}
