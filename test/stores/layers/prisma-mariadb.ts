import { PrismaMariaDb } from '@prisma/adapter-mariadb';
import type { LayerTarget } from '../conformance.js';
import { prismaClientClass } from '../../data-layers/prisma/client.js';

/** Prisma 7 on MariaDB through @prisma/adapter-mariadb: the tx of prisma.$transaction(async (tx) => ...); the root client is refused. */
export const prismaMariadbLayer: LayerTarget = {
  name: 'prisma (adapter-mariadb)',
  refusalHint: /prisma\.\$transaction\(async \(tx\)/,
  async open(url) {
    const PrismaClient = await prismaClientClass('mysql');
    const u = new URL(url);
    const adapter = new PrismaMariaDb({
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.slice(1),
      connectionLimit: 2,
    });
    const prisma = new PrismaClient({ adapter });
    return {
      notATransaction: prisma,
      transaction: (fn) => prisma.$transaction((tx) => fn(tx), { timeout: 30_000, maxWait: 30_000 }),
      close: () => prisma.$disconnect(),
    };
  },
};
