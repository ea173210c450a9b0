/**
 * The logging port. Herald logs facts (counts, ids, topics, error messages), never payloads or
 * connection secrets; a payload may appear only in `debug` and only when debug is enabled.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link consoleLogger}. */
export interface ConsoleLoggerOptions {
  /** One JSON object per line instead of text. */
  readonly json?: boolean;
  readonly debug?: boolean;
  /** Suppresses info and debug lines. */
  readonly quiet?: boolean;
}

/** A logger that writes to stderr, so stdout stays free for results and `--json` output. */
export function consoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const write = (level: string, message: string, fields: Record<string, unknown> = {}): void => {
    if (options.json) {
      process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + '\n');
      return;
    }
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    process.stderr.write(`${level.padEnd(5)} ${message}${extra ? ' ' + extra : ''}\n`);
  };
  return {
    debug: (m, f) => options.debug && !options.quiet && write('debug', m, f),
    info: (m, f) => !options.quiet && write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything; the default for library use. */
export const silentLogger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
