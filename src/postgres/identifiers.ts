import { HeraldError, ErrorCodes } from '../errors.js';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Validates a SQL identifier that comes from configuration (schema or table name) and returns it
 * double-quoted. Only lowercase letters, digits and `_` are accepted, so the quoted form is also
 * the name a person types in psql without quotes.
 */
export function quoteIdent(name: string, option: string): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option '${option}' must be a lowercase SQL identifier (letters, digits, '_', at most 63), got '${String(name).slice(0, 80)}'`,
      {
        details: { option },
      },
    );
  }
  return `"${name}"`;
}
