import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isHeraldError } from '../../src/errors.js';
import { storeFor } from '../../src/store/store-url.js';
import type { OutboxStore, OutboxWriter } from '../../src/store/port.js';
import type { Order } from '../../examples/layers/order.js';
import { placeOrder as withPg } from '../../examples/layers/pg.js';
import { placeOrder as withPostgresJs } from '../../examples/layers/postgres-js.js';
import { placeOrder as withKysely } from '../../examples/layers/kysely.js';
import { placeOrder as withDrizzle } from '../../examples/layers/drizzle.js';
import { placeOrder as withKnex } from '../../examples/layers/knex.js';
import { placeOrder as withTypeorm } from '../../examples/layers/typeorm.js';
import { placeOrder as withPrisma, type ShopPrisma } from '../../examples/layers/prisma.js';
import { placeOrder as withMysql2 } from '../../examples/layers/mysql2.js';
import { handlerTest } from '../../examples/testing.js';
import { prismaClientClass } from '../data-layers/prisma/client.js';
import { MYSQL_URL, mysqlConnection } from '../mysql/mysql-support.js';
import { orderContracts, orderPlaced } from '../support/contracts.js';
import { PG_URL, uniqueName } from '../support/services.js';

type Snippet = (url: string, outbox: OutboxWriter, order: Order) => Promise<void>;

const README = readFileSync('README.md', 'utf8');
/** The snippet of an example file: its `// #region snippet` parts, each dedented, joined. */
const regionOf = (file: string): string => {
  const parts = [...readFileSync(file, 'utf8').matchAll(/\/\/ #region snippet\n([\s\S]*?)\n\s*\/\/ #endregion snippet/g)].map((m) => m[1]!);
  if (parts.length === 0) throw new Error(`${file} has no snippet region`);
  return parts
    .map((body) => {
      const indent = Math.min(
        ...body
          .split('\n')
          .filter((l) => l.trim())
          .map((l) => /^ */.exec(l)![0].length),
      );
      return body
        .split('\n')
        .map((l) => l.slice(indent))
        .join('\n');
    })
    .join('\n');
};

const order = (valid = true): Order => {
  const o = { ...orderPlaced(`snippet-${Math.random()}`), total: 42 } as Order;
  if (!valid) delete o.currency; // the contract requires it: the append throws, and the order must roll back with it
  return o;
};

// One business database per store, holding the service's `orders` table and Herald's tables.
const pgDb = uniqueName('herald_snippets');
const pgUrl = Object.assign(new URL(PG_URL), { pathname: `/${pgDb}` }).toString();
const myDb = uniqueName('herald_snippets');
const myUrl = Object.assign(new URL(MYSQL_URL), { pathname: `/${myDb}` }).toString();
let pgStore: OutboxStore;
let myStore: OutboxStore;
let pgAdmin: pg.Client;

beforeAll(async () => {
  pgAdmin = new pg.Client(PG_URL);
  await pgAdmin.connect();
  await pgAdmin.query(`CREATE DATABASE ${pgDb}`);
  const shop = new pg.Client(pgUrl);
  await shop.connect();
  await shop.query('CREATE TABLE orders (id text PRIMARY KEY, total int NOT NULL)');
  await shop.end();
  pgStore = await storeFor(pgUrl);
  await pgStore.migrate();

  const my = await mysqlConnection();
  await my.query(`CREATE DATABASE \`${myDb}\``);
  await my.query(`CREATE TABLE \`${myDb}\`.orders (id varchar(64) PRIMARY KEY, total int NOT NULL)`);
  await my.end();
  myStore = await storeFor(myUrl, { schema: myDb });
  await myStore.migrate();
});
afterAll(async () => {
  await pgAdmin.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`);
  await pgAdmin.end();
  const my = await mysqlConnection();
  await my.query(`DROP DATABASE IF EXISTS \`${myDb}\``);
  await my.end();
});

async function pgState(id: string): Promise<{ orders: number; events: number }> {
  const c = new pg.Client(pgUrl);
  await c.connect();
  try {
    const orders = (await c.query('SELECT count(*)::int AS n FROM orders WHERE id = $1', [id])).rows[0].n as number;
    const events = (await c.query(`SELECT count(*)::int AS n FROM herald.outbox WHERE data->>'orderId' = $1`, [id])).rows[0].n as number;
    return { orders, events };
  } finally {
    await c.end();
  }
}

async function myState(id: string): Promise<{ orders: number; events: number }> {
  const c = await mysqlConnection();
  try {
    const [[o]] = (await c.query(`SELECT count(*) AS n FROM \`${myDb}\`.orders WHERE id = ?`, [id])) as unknown as [[{ n: number }]];
    const [[e]] = (await c.query(`SELECT count(*) AS n FROM \`${myDb}\`.outbox WHERE JSON_VALUE(data, '$.orderId') = ?`, [
      id,
    ])) as unknown as [[{ n: number }]];
    return { orders: Number(o.n), events: Number(e.n) };
  } finally {
    await c.end();
  }
}

const prismaSnippet: Snippet = async (url, outbox, o) =>
  withPrisma(url, outbox, o, (await prismaClientClass('pg')) as unknown as new (options: { adapter: unknown }) => ShopPrisma);

const cases: {
  file: string;
  snippet: Snippet;
  store: () => OutboxStore;
  state: (id: string) => Promise<{ orders: number; events: number }>;
}[] = [
  { file: 'examples/layers/pg.ts', snippet: withPg, store: () => pgStore, state: pgState },
  { file: 'examples/layers/postgres-js.ts', snippet: withPostgresJs, store: () => pgStore, state: pgState },
  { file: 'examples/layers/kysely.ts', snippet: withKysely, store: () => pgStore, state: pgState },
  { file: 'examples/layers/drizzle.ts', snippet: withDrizzle, store: () => pgStore, state: pgState },
  { file: 'examples/layers/knex.ts', snippet: withKnex, store: () => pgStore, state: pgState },
  { file: 'examples/layers/typeorm.ts', snippet: withTypeorm, store: () => pgStore, state: pgState },
  { file: 'examples/layers/prisma.ts', snippet: prismaSnippet, store: () => pgStore, state: pgState },
  { file: 'examples/layers/mysql2.ts', snippet: withMysql2, store: () => myStore, state: myState },
];

describe('the README data-layer snippets', () => {
  for (const c of cases) {
    it(`${c.file}: is in the README as written, commits the order with its event, and rolls both back on an invalid event`, async () => {
      expect(README).toContain('```ts\n' + regionOf(c.file) + '\n```');
      const writer = c.store().writer({ contracts: orderContracts(), source: '/snippets' });
      const placed = order();
      await c.snippet(c.file.includes('mysql') ? myUrl : pgUrl, writer, placed);
      expect(await c.state(placed.orderId)).toEqual({ orders: 1, events: 1 });

      const invalid = order(false);
      const err = await c.snippet(c.file.includes('mysql') ? myUrl : pgUrl, writer, invalid).catch((e: unknown) => e);
      expect(isHeraldError(err, ErrorCodes.EVENT_INVALID)).toBe(true);
      expect(await c.state(invalid.orderId)).toEqual({ orders: 0, events: 0 });
    });
  }
});

describe('the README herald/testing snippet', () => {
  it('is in the README as written; delivers through the broker outage, and a rolled-back handler leaves nothing', async () => {
    expect(README).toContain('```ts\n' + regionOf('examples/testing.ts') + '\n```');
    const seen = await handlerTest();
    expect(seen.delivered).toHaveLength(1);
    expect(seen.pendingAfterRollback).toBe(0);
  });
});
