import { HeraldError, ErrorCodes } from '../errors.js';

/** Where the metrics and health server listens. */
export interface MetricsAddress {
  readonly host: string;
  readonly port: number;
}

/** The host used when `--metrics` gives only a port: loopback, so nothing is exposed by accident. */
export const defaultMetricsHost = '127.0.0.1';

/**
 * Parses `--metrics HOST:PORT`, `PORT`, `:PORT` or `[IPv6]:PORT`. The host defaults to
 * {@link defaultMetricsHost}; the port must be an integer 0–65535 (0: any free port). Anything
 * else throws `CONFIG_INVALID` naming the flag (with an example on `examplePort`), so a typo
 * stops the command before it starts.
 */
export function parseMetricsAddress(value: unknown, flag = '--metrics', examplePort = 9464): MetricsAddress {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65_535) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `${flag} must be HOST:PORT or PORT (e.g. 127.0.0.1:${examplePort} or ${examplePort}), got '${String(value)}'`,
      { details: { option: flag.replace(/^--/, '') } },
    );
  }
  const host = m[1] ? m[1].replace(/^\[(.*)\]$/, '$1') : defaultMetricsHost;
  return { host, port };
}
