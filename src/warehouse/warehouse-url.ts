import { HeraldError, ErrorCodes } from '../errors.js';
import { maskCredentials } from '../brokers/mask.js';
import type { WarehouseSink } from './sink.js';

/** A warehouse URL, parsed: a DuckDB file, or a PostgreSQL server URL (without `schema`) and schema. */
export type WarehouseLocation =
  | { readonly dialect: 'duckdb'; readonly file: string }
  | { readonly dialect: 'postgres'; readonly url: string; readonly schema: string | undefined };

/**
 * Parses `duckdb:<file>` (relative or absolute path, e.g. `duckdb:warehouse.duckdb`) or
 * `postgres://user:pass@host/db?schema=analytics` (`schema` is Herald's parameter: it is taken out
 * of the URL given to the server). Anything else is a `CONFIG_INVALID` naming the forms Herald
 * knows; the URL is shown without its password.
 */
export function parseWarehouseUrl(url: string): WarehouseLocation {
  if (/^duckdb:/i.test(url)) {
    const file = url.replace(/^duckdb:(\/\/)?/i, '');
    if (file === '') throw invalid(url);
    return { dialect: 'duckdb', file };
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw invalid(url);
    }
    const schema = parsed.searchParams.get('schema') ?? undefined;
    parsed.searchParams.delete('schema');
    return { dialect: 'postgres', url: parsed.toString(), schema };
  }
  throw invalid(url);
}

/**
 * Makes the sink a warehouse URL names (see {@link parseWarehouseUrl}; `schema` defaults to
 * `public`). Only the sink of that warehouse, and its client library, is loaded.
 */
export async function sinkFor(url: string): Promise<WarehouseSink> {
  const at = parseWarehouseUrl(url);
  if (at.dialect === 'duckdb') return new (await import('./duckdb-sink.js')).DuckDbSink({ path: at.file });
  return new (await import('./postgres-sink.js')).PostgresSink({ url: at.url, ...(at.schema === undefined ? {} : { schema: at.schema }) });
}

function invalid(url: string): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `option 'warehouse' must be duckdb:<file> or postgres://user@host/database[?schema=name], got '${maskCredentials(url)}'`,
    { details: { option: 'warehouse' } },
  );
}
