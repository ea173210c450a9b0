import { PrismaPg } from '@prisma/adapter-pg';
import type { LayerTarget } from '../conformance.js';
import { prismaClientClass } from '../../data-layers/prisma/client.js';

/** Prisma 7 on PostgreSQL through @prisma/adapter-pg: the tx of prisma.$transaction(async (tx) => ...); the root client is refused. */
export const prismaPgLayer: LayerTarget = {
  name: 'prisma (adapter-pg)',
  refusalHint: /prisma\.\$transaction\(async \(tx\)/,
  async open(url) {
    const PrismaClient = await prismaClientClass('pg');
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, max: 2 }) });
    return {
      notATransaction: prisma,
      transaction: (fn) => prisma.$transaction((tx) => fn(tx), { timeout: 30_000, maxWait: 30_000 }),
      close: () => prisma.$disconnect(),
    };
  },
};
