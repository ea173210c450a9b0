import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import type { LayerTarget } from '../conformance.js';
import { prismaClientClass } from '../../data-layers/prisma/client.js';
import { fileOf } from '../../sqlite/sqlite-support.js';

/** Prisma 7 through @prisma/adapter-better-sqlite3: the tx of prisma.$transaction(async (tx) => ...); the root client is refused. */
export const prismaSqliteLayer: LayerTarget = {
  name: 'prisma (adapter-better-sqlite3)',
  refusalHint: /prisma\.\$transaction\(async \(tx\)/,
  async open(url) {
    const PrismaClient = await prismaClientClass('sqlite');
    const prisma = new PrismaClient({ adapter: new PrismaBetterSqlite3({ url: `file:${fileOf(url)}` }) });
    return {
      notATransaction: prisma,
      transaction: (fn) => prisma.$transaction((tx) => fn(tx), { timeout: 30_000, maxWait: 30_000 }),
      close: () => prisma.$disconnect(),
    };
  },
};
