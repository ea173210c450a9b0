import { HeraldError, ErrorCodes } from '../errors.js';

/** A flag's value as a positive whole number of milliseconds; anything else throws `CONFIG_INVALID` naming the flag. */
export function positiveMs(value: unknown, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `${flag} must be a positive number of milliseconds, got '${String(value)}'`, {
      details: { option: flag.replace(/^--/, '') },
    });
  }
  return n;
}
