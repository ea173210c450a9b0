import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * The Prisma schemas of the tests: `pg` (PostgreSQL via @prisma/adapter-pg), `mysql` (MariaDB via
 * @prisma/adapter-mariadb) and `sqlite` (via @prisma/adapter-better-sqlite3).
 */
export type PrismaTestSchema = 'pg' | 'mysql' | 'sqlite';

/** The part of a generated PrismaClient the tests use. */
export interface TestPrismaClient {
  $transaction<T>(fn: (tx: TestPrismaTx) => Promise<T>, options?: { timeout?: number; maxWait?: number }): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
  $disconnect(): Promise<void>;
}

/** The interactive transaction client of {@link TestPrismaClient}. */
export interface TestPrismaTx {
  order: { create(args: { data: { id: string; total: number } }): Promise<unknown> };
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export type TestPrismaClientClass = new (options: { adapter: unknown }) => TestPrismaClient;

const HERE = dirname(fileURLToPath(import.meta.url));
const GENERATED = resolve(HERE, '../../.generated');
const require = createRequire(import.meta.url);

/**
 * Generates the client of `test/data-layers/prisma/<schema>.prisma` into
 * `test/.generated/prisma-<schema>` (gitignored) unless it is there for the same schema and
 * Prisma version, then loads it. `prisma generate` runs offline: the client of Prisma 7 needs no
 * query engine (it runs on the driver adapter), and `PRISMA_SCHEMA_ENGINE_BINARY=/bin/true`
 * keeps the CLI from looking for a schema engine it does not use here. The client is generated
 * in a scratch directory and renamed into place, so a half-written client is never loaded.
 */
export function generatePrismaClient(schema: PrismaTestSchema): string {
  const source = readFileSync(join(HERE, `${schema}.prisma`), 'utf8');
  const cli = require.resolve('prisma/build/index.js');
  const version = (JSON.parse(readFileSync(join(dirname(cli), '../package.json'), 'utf8')) as { version: string }).version;
  const stamp = createHash('sha256').update(`${version}\n${source}`).digest('hex');
  const target = join(GENERATED, `prisma-${schema}`);
  if (existsSync(join(target, 'client.ts')) && existsSync(join(target, '.stamp')) && readFileSync(join(target, '.stamp'), 'utf8') === stamp)
    return target;
  mkdirSync(GENERATED, { recursive: true });
  const scratch = mkdtempSync(join(GENERATED, `prisma-${schema}-tmp-`));
  try {
    writeFileSync(join(scratch, 'schema.prisma'), source.replace(/output\s*=\s*"[^"]*"/, 'output = "./client"'));
    execFileSync(process.execPath, [cli, 'generate', '--schema', join(scratch, 'schema.prisma')], {
      cwd: scratch,
      env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    writeFileSync(join(scratch, 'client', '.stamp'), stamp);
    rmSync(target, { recursive: true, force: true });
    renameSync(join(scratch, 'client'), target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return target;
}

const loaded = new Map<PrismaTestSchema, Promise<TestPrismaClientClass>>();

/** The generated `PrismaClient` class of `schema`, generating it first when needed. */
export function prismaClientClass(schema: PrismaTestSchema): Promise<TestPrismaClientClass> {
  let p = loaded.get(schema);
  if (p === undefined) {
    p = (async () => {
      const dir = generatePrismaClient(schema);
      const mod = (await import(pathToFileURL(join(dir, 'client.ts')).href)) as { PrismaClient: TestPrismaClientClass };
      return mod.PrismaClient;
    })();
    loaded.set(schema, p);
  }
  return p;
}
