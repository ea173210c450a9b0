import { drizzle } from 'drizzle-orm/node-postgres';
import knex from 'knex';
import { Kysely, PostgresDialect } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import postgres from 'postgres';
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { afterAll, describe, expect, it } from 'vitest';
import { numberedToQuestionMarks } from '../../src/data-layers/knex.js';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { executorFor } from '../../src/store/executor-for.js';

// Every handle here is created lazily and never connects: the refusal must come before any I/O.
const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
const mysqlPool = mysql.createPool({ uri: 'mysql://nobody@127.0.0.1:1/none' });
const knexPg = knex({ client: 'pg', connection: 'postgres://nobody@127.0.0.1:1/none' });
const sql = postgres('postgres://nobody@127.0.0.1:1/none');
afterAll(async () => {
  await Promise.all([pool.end(), mysqlPool.end(), knexPg.destroy(), sql.end()]);
});

function refusal(handle: unknown, dialect: 'postgres' | 'mysql'): Error {
  try {
    executorFor(handle, dialect);
  } catch (err) {
    expect(isHeraldError(err, ErrorCodes.TRANSACTION_REQUIRED)).toBe(true);
    return err as Error;
  }
  throw new Error('expected a refusal');
}

describe('root handles are refused by name, before any statement', () => {
  it.each([
    ['a pg Pool', () => pool, 'postgres', /pg client that ran BEGIN \(await pool\.connect\(\)\), not the pool/],
    ['the root postgres.js sql', () => sql, 'postgres', /sql\.begin\(/],
    [
      'the root Kysely',
      () => new Kysely({ dialect: new PostgresDialect({ pool }) }),
      'postgres',
      /db\.transaction\(\)\.execute\(async \(trx\)/,
    ],
    ['the root Drizzle db', () => drizzle(pool), 'postgres', /db\.transaction\(async \(tx\)/],
    ['the root knex', () => knexPg, 'postgres', /knex\.transaction\(async \(trx\)/],
    ['a TypeORM DataSource', () => new DataSource({ type: 'postgres' }), 'postgres', /dataSource\.transaction\(async \(manager\)/],
    ['a mysql2 Pool', () => mysqlPool, 'mysql', /pool\.getConnection\(\)/],
    ['something unknown', () => ({ query: 1 }), 'mysql', /Prisma prisma\.\$transaction/],
  ] as const)('%s', (_, handle, dialect, hint) => {
    expect(refusal(handle(), dialect).message).toMatch(hint);
  });
});

describe('numberedToQuestionMarks (knex on PostgreSQL)', () => {
  it('orders bindings by their ? and repeats a parameter used twice', () => {
    expect(numberedToQuestionMarks('SELECT $2, $1, $2', ['a', 'b'])).toEqual({ sql: 'SELECT ?, ?, ?', bindings: ['b', 'a', 'b'] });
  });

  it('copies quoted strings, quoted identifiers and dollar-quoted bodies untouched', () => {
    const text = `SELECT '$1 ?', "col$1", $$ $1 ? $$, $tag$ $2 $tag$, $1`;
    expect(numberedToQuestionMarks(text, ['x'])).toEqual({ sql: `SELECT '$1 ?', "col$1", $$ $1 ? $$, $tag$ $2 $tag$, ?`, bindings: ['x'] });
  });

  it("escapes a literal ? (jsonb's operator) so knex does not bind it", () => {
    expect(numberedToQuestionMarks(`SELECT data ? 'k' FROM t WHERE id = $1`, [7])).toEqual({
      sql: `SELECT data \\? 'k' FROM t WHERE id = ?`,
      bindings: [7],
    });
  });

  it('refuses a placeholder without a parameter', () => {
    expect(() => numberedToQuestionMarks('SELECT $3', [1])).toThrow('placeholder $3 has no parameter (1 given)');
  });
});
