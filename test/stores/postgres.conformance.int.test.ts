import { storeConformance } from './conformance.js';
import { prismaPgLayer } from './layers/prisma-pg.js';
import { typeormPgLayer } from './layers/typeorm-pg.js';
import { knexPgLayer } from './layers/knex-pg.js';
import { drizzlePgLayer } from './layers/drizzle-pg.js';
import { drizzlePostgresJsLayer } from './layers/drizzle-postgres-js.js';
import { kyselyPgLayer } from './layers/kysely-pg.js';
import { pgLayer } from './layers/pg.js';
import { postgresJsLayer } from './layers/postgres-js.js';
import { PG_URL, uniqueName } from '../support/services.js';

storeConformance({
  name: 'postgres',
  fresh: async () => ({ url: PG_URL, options: { schema: uniqueName('conf') } }),
  unreachableUrl: 'postgres://herald:conformance-secret@127.0.0.1:1/app',
  layers: [pgLayer, postgresJsLayer, kyselyPgLayer, drizzlePgLayer, drizzlePostgresJsLayer, knexPgLayer, typeormPgLayer, prismaPgLayer],
  concurrentWriters: true,
});
