import { checkIdentifier } from '../store/identifiers.js';

/**
 * Validates a SQL identifier that comes from configuration (schema or table name) and returns it
 * double-quoted. Only lowercase letters, digits and `_` are accepted, so the quoted form is also
 * the name a person types in psql without quotes.
 */
export function quoteIdent(name: string, option: string): string {
  return `"${checkIdentifier(name, option)}"`;
}
