import { HeraldError, ErrorCodes } from '../errors.js';
import { maskCredentials } from '../brokers/mask.js';
import type { WarehouseSink } from './sink.js';

/**
 * Makes the sink a warehouse URL names: `duckdb:<file>` (relative or absolute path, e.g.
 * `duckdb:warehouse.duckdb`) or `postgres://user:pass@host/db?schema=analytics` (`schema`
 * defaults to `public`; it is Herald's parameter and is not passed to the server). Only the sink
 * of that warehouse, and its client library, is loaded. Anything else is a `CONFIG_INVALID`
 * naming the forms Herald knows; the URL is shown without its password.
 */
export async function sinkFor(url: string): Promise<WarehouseSink> {
  if (/^duckdb:/i.test(url)) {
    const path = url.replace(/^duckdb:(\/\/)?/i, '');
    if (path === '') throw invalid(url);
    return new (await import('./duckdb-sink.js')).DuckDbSink({ path });
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
    return new (await import('./postgres-sink.js')).PostgresSink({ url: parsed.toString(), ...(schema === undefined ? {} : { schema }) });
  }
  throw invalid(url);
}

function invalid(url: string): HeraldError {
  return new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `option 'warehouse' must be duckdb:<file> or postgres://user@host/database[?schema=name], got '${maskCredentials(url)}'`,
    { details: { option: 'warehouse' } },
  );
}
