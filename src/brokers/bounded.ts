/**
 * Settles like `operation`, or rejects with `onTimeout()` after `ms`, whichever comes first.
 * Broker clients retry some failures without end (an unreachable server, a lost connection); this
 * is what keeps a publish from hanging. A later rejection of the abandoned operation is ignored:
 * the caller discards that connection either way.
 */
export function bounded<T>(operation: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  operation.catch(() => undefined);
  return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
}
