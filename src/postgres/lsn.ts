import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * A PostgreSQL WAL position (LSN). Kept as a bigint so that comparisons are exact: the text form
 * `16/B374D848` does not sort as a string, and 64 bits do not fit a JavaScript number.
 */
export type Lsn = bigint;

/** Parses the text form `X/Y` (both hexadecimal) that PostgreSQL prints. */
export function parseLsn(text: string): Lsn {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text);
  if (!m) throw new HeraldError(ErrorCodes.DATABASE_ERROR, `'${text}' is not a PostgreSQL LSN (expected X/Y in hexadecimal)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

/** Formats an LSN the way PostgreSQL prints it, e.g. `16/B374D848`. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
