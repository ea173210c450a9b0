import { HeraldError, ErrorCodes } from '../errors.js';

/** A parsed `SELECT VERSION()` answer. */
export interface ServerVersion {
  readonly flavor: 'mysql' | 'mariadb';
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The text the server reported, for messages. */
  readonly text: string;
}

/**
 * The oldest servers the MySQL store runs on: the relay and the append need InnoDB row locks
 * with `FOR UPDATE SKIP LOCKED`-era locking semantics, STORED generated columns and JSON, which
 * MySQL has from 8.0.1 and MariaDB from 10.6 (SKIP LOCKED arrived in 10.6).
 */
export const MINIMUM_VERSIONS = { mysql: [8, 0, 1], mariadb: [10, 6, 0] } as const;

/**
 * Parses a server version string such as `8.0.36`, `10.11.19-MariaDB-0+deb12u1` or the
 * replication-era `5.5.5-10.6.12-MariaDB` handshake form. Pure; returns undefined for text that
 * is not a version.
 */
export function parseServerVersion(text: string): ServerVersion | undefined {
  // MariaDB's handshake once prefixed its real version with '5.5.5-' for old clients.
  const stripped = text.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(stripped);
  if (!m) return undefined;
  return {
    flavor: /mariadb/i.test(stripped) ? 'mariadb' : 'mysql',
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    text,
  };
}

/**
 * Throws `CONFIG_INVALID` naming the server's version and what the store needs when the server
 * is too old (or its version cannot be read); returns the parsed version otherwise. Pure, so the
 * rule is unit-tested with version strings instead of old servers.
 */
export function checkServerVersion(text: string): ServerVersion {
  const v = parseServerVersion(text);
  const needed = `MySQL ${MINIMUM_VERSIONS.mysql.join('.')} or MariaDB ${MINIMUM_VERSIONS.mariadb.join('.')} or later (for FOR UPDATE SKIP LOCKED, STORED generated columns and JSON)`;
  if (v === undefined) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `cannot read the server version '${text.slice(0, 80)}'; herald needs ${needed}`);
  }
  const [major, minor, patch] = MINIMUM_VERSIONS[v.flavor];
  const ok = v.major !== major ? v.major > major : v.minor !== minor ? v.minor > minor : v.patch >= patch;
  if (!ok) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `the server runs ${v.flavor === 'mariadb' ? 'MariaDB' : 'MySQL'} ${v.major}.${v.minor}.${v.patch} ('${text}'); herald needs ${needed}`,
      { details: { serverVersion: text } },
    );
  }
  return v;
}
