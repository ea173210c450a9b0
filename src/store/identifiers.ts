import { HeraldError, ErrorCodes } from '../errors.js';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Validates a SQL identifier that comes from configuration (schema, database or table name).
 * Only lowercase letters, digits and `_`, at most 63, are accepted: the same name is then valid
 * and case-stable on every store, and each store quotes it its own way (`"x"`, `` `x` ``).
 */
export function checkIdentifier(name: unknown, option: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option '${option}' must be a lowercase SQL identifier (letters, digits, '_', at most 63), got '${String(name).slice(0, 80)}'`,
      { details: { option } },
    );
  }
  return name;
}
