import { createHash } from 'node:crypto';

/**
 * The name under which a statement is prepared on a connection: `prefix` plus a hash of its text.
 * Guarantees a name well under PostgreSQL's 63-byte identifier limit whatever the schema, table
 * or slot names in the text (a longer name is truncated with a notice, and truncated names of
 * different statements can collide), and the same name only for the same text.
 */
export function preparedStatementName(prefix: string, sql: string): string {
  return `${prefix}${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`;
}
