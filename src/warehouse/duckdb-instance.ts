import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { HeraldError, ErrorCodes } from '../errors.js';
import { quoteIdent } from '../postgres/identifiers.js';

type DuckDbModule = typeof import('@duckdb/node-api');
type DuckDBInstance = import('@duckdb/node-api').DuckDBInstance;
type DuckDBConnection = import('@duckdb/node-api').DuckDBConnection;

/**
 * DuckDB instances this process has open for writing, by absolute path. DuckDB forbids two
 * instances of one file in one process, so {@link queryDuckDb} borrows the writer's instance
 * instead of opening a second one.
 */
const openInstances = new Map<string, DuckDBInstance>();

/** A DuckDB file open for writing by this process, with one connection. */
export interface OpenDuckDb {
  readonly instance: DuckDBInstance;
  readonly connection: DuckDBConnection;
  /** Closes the connection and the instance; idempotent. */
  close(): void;
}

/**
 * Opens (or creates, with its parent directory) a DuckDB file for writing. Rejects with
 * `CONFIG_INVALID` when this process already has it open, and with a retryable
 * `DATABASE_ERROR` when another process holds it (DuckDB allows one writing process per file).
 */
export async function openDuckDb(file: string): Promise<OpenDuckDb> {
  const duckdb = await loadDuckDb();
  const key = path.resolve(file);
  if (openInstances.has(key)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `duckdb file '${file}' is already open for writing in this process; use one writer per file`,
      {
        details: { file },
      },
    );
  }
  if (file !== ':memory:') await mkdir(path.dirname(key), { recursive: true });
  let instance: DuckDBInstance;
  try {
    instance = await duckdb.DuckDBInstance.create(file);
  } catch (cause) {
    throw openError(file, cause);
  }
  const connection = await instance.connect();
  openInstances.set(key, instance);
  let closed = false;
  return {
    instance,
    connection,
    close: () => {
      if (closed) return;
      closed = true;
      if (openInstances.get(key) === instance) openInstances.delete(key);
      try {
        connection.closeSync();
      } finally {
        instance.closeSync();
      }
    },
  };
}

/**
 * Runs one query against a DuckDB file and returns its rows as plain objects whose values are
 * JSON-safe: integers become numbers (or decimal strings beyond 2^53), timestamps ISO 8601
 * strings, `JSON` columns parsed values, blobs base64.
 *
 * When this process has the file open through a {@link DuckDbPublisher}, the query runs on that
 * instance (DuckDB allows one instance per file per process) and so sees every committed batch;
 * otherwise the file is opened read-only for the query. A file that another process has open for
 * writing cannot be opened at all: that rejects with a retryable `DATABASE_ERROR`.
 */
export async function queryDuckDb(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const reader = await openDuckDbReader(file);
  try {
    return await reader.query(sql);
  } finally {
    reader.close();
  }
}

/** A DuckDB file open for reading: many queries on one instance; see {@link openDuckDbReader}. */
export interface DuckDbReader {
  /** One query; rows as {@link queryDuckDb} returns them; a failure is a `DATABASE_ERROR` naming the file. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Closes the read-only instance (never this process's writer); idempotent. */
  close(): void;
}

/**
 * Opens a DuckDB file for many queries, the way {@link queryDuckDb} opens it for one: through this
 * process's writer when it has one, else read-only. Rejects with `CONFIG_INVALID` when the file
 * does not exist, and a retryable `DATABASE_ERROR` when another process holds it for writing.
 */
export async function openDuckDbReader(file: string): Promise<DuckDbReader> {
  const duckdb = await loadDuckDb();
  const shared = openInstances.get(path.resolve(file));
  let instance = shared;
  if (!instance) {
    try {
      instance = await duckdb.DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
    } catch (cause) {
      if (/database does not exist/i.test(firstLine(cause))) {
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `duckdb file '${file}' does not exist; check the path, or load into it first`, {
          cause,
          details: { file },
        });
      }
      throw openError(file, cause);
    }
  }
  const open = instance;
  let closed = false;
  return {
    query: async (sql) => {
      let connection: DuckDBConnection | undefined;
      try {
        connection = await open.connect();
        const reader = await connection.runAndReadAll(sql);
        const json = new Set(reader.columnTypes().flatMap((type, i) => (type.alias === 'JSON' ? [reader.columnName(i)] : [])));
        return reader.getRowObjectsJS().map((row) => {
          const out: Record<string, unknown> = {};
          for (const [name, value] of Object.entries(row))
            out[name] = json.has(name) && typeof value === 'string' ? parseJson(value) : toJsonSafe(value);
          return out;
        });
      } catch (cause) {
        throw new HeraldError(ErrorCodes.DATABASE_ERROR, `query on duckdb file '${file}' failed: ${firstLine(cause)}`, {
          cause,
          details: { file },
        });
      } finally {
        connection?.closeSync();
      }
    },
    close: () => {
      if (closed) return;
      closed = true;
      if (!shared) open.closeSync();
    },
  };
}

/** The number of rows in `table` of a DuckDB file; see {@link queryDuckDb}. */
export async function countRows(file: string, table: string): Promise<number> {
  const rows = await queryDuckDb(file, `SELECT count(*) AS n FROM ${quoteIdent(table, 'table')}`);
  return Number(rows[0]?.n ?? 0);
}

let duckdbModule: Promise<DuckDbModule> | undefined;

/** Loads `@duckdb/node-api`, an optional peer dependency; `CONFIG_INVALID` when it is missing. */
export function loadDuckDb(): Promise<DuckDbModule> {
  duckdbModule ??= import('@duckdb/node-api').catch((cause: unknown) => {
    duckdbModule = undefined;
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      "the duckdb warehouse needs the package '@duckdb/node-api': npm install @duckdb/node-api",
      { cause },
    );
  });
  return duckdbModule;
}

function openError(file: string, cause: unknown, code: typeof ErrorCodes.DATABASE_ERROR = ErrorCodes.DATABASE_ERROR): HeraldError {
  const reason = firstLine(cause);
  const message = /could not set lock/i.test(reason)
    ? `cannot open duckdb file '${file}': another process has it open for writing (duckdb allows one writing process per file); stop that process or use another file`
    : `cannot open duckdb file '${file}': ${reason}; check that the path is a writable file`;
  return new HeraldError(code, message, { cause, retryable: true, details: { file } });
}

/**
 * The first line of a DuckDB error, without the input echo some errors append: conversion errors
 * quote the offending value, which may be part of a payload.
 */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').replace(/\s*Input: .*$/, '').slice(0, 300);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toJsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonSafe(v)]));
  return value;
}
