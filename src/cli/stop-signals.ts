import type { Logger } from '../observe/logger.js';

/**
 * Installs the CLI's stop behaviour for a long-running command: the first SIGTERM or SIGINT logs
 * `<signal>: <finishing>` and calls `stop` (the command finishes its batch and exits 0); a second
 * one logs `<leftBehind>` and exits 130 at once. Returns the function that removes the handlers.
 */
export function onStopSignals(log: Logger, stop: () => void, finishing: string, leftBehind: string): () => void {
  let signals = 0;
  const handle = (name: string): void => {
    if (++signals > 1) {
      log.warn(`second ${name}: exiting now; ${leftBehind}`);
      process.exit(130);
    }
    log.info(`${name}: ${finishing}`);
    stop();
  };
  const handlers = { SIGTERM: () => handle('SIGTERM'), SIGINT: () => handle('SIGINT') };
  for (const [name, fn] of Object.entries(handlers)) process.on(name, fn);
  return () => {
    for (const [name, fn] of Object.entries(handlers)) process.off(name, fn);
  };
}
