import { HeraldError, ErrorCodes } from '../errors.js';

/** The interval `--watch` uses when given without a number, in seconds (as watch(1) does). */
export const defaultWatchSeconds = 2;

/**
 * Parses `--watch [SECONDS]`: `true` (the flag alone) gives {@link defaultWatchSeconds}; a number
 * must be at least 0.1. Anything else throws `CONFIG_INVALID` naming the flag.
 */
export function parseWatchSeconds(value: unknown): number {
  if (value === true) return defaultWatchSeconds;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0.1) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `--watch must be a number of seconds, 0.1 or more, got '${String(value)}'`, {
      details: { option: 'watch' },
    });
  }
  return n;
}

/** Options of {@link watch}. */
export interface WatchOptions {
  /** Seconds between the start of one render and the next. */
  readonly intervalSeconds: number;
  /** Writes one render to stdout; its number (0, 1, …) is given. */
  readonly render: (n: number) => Promise<void>;
  /** Clear the screen and print a header before each render (only meaningful on a terminal). */
  readonly clear: boolean;
  /** The header's title, e.g. `herald status`. */
  readonly title: string;
  /** Stops the loop as SIGINT does (for tests and embedding). */
  readonly signal?: AbortSignal;
}

/**
 * Renders every `intervalSeconds` until SIGINT or SIGTERM (or `signal`), then resolves, so the
 * command exits 0 after a stop it was asked for. A failing first render rejects (a wrong option
 * or URL ends the command at once, with its exit code); a later failure is printed as one
 * `herald: …` line on stderr and the next render tries again, as a dashboard should. A second
 * signal during a render that hangs exits 130 at once.
 */
export async function watch(options: WatchOptions): Promise<void> {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (): void => {
    if (++signals > 1) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  options.signal?.addEventListener('abort', onSignal, { once: true });
  try {
    for (let n = 0; !stop.signal.aborted; n++) {
      const started = Date.now();
      if (options.clear) {
        // Home, then clear: the screen is redrawn in place, like watch(1).
        process.stdout.write(`\x1b[H\x1b[2J${options.title}, every ${options.intervalSeconds}s: ${new Date().toISOString()}\n\n`);
      }
      try {
        await options.render(n);
      } catch (err) {
        if (n === 0) throw err;
        process.stderr.write(`herald: ${err instanceof Error ? err.message : String(err)}\n`);
      }
      await pause(Math.max(0, options.intervalSeconds * 1000 - (Date.now() - started)), stop.signal);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    options.signal?.removeEventListener('abort', onSignal);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
