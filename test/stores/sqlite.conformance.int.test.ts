import { storeConformance } from './conformance.js';
import { betterSqlite3Layer, betterSqlite3SyncLayer } from './layers/better-sqlite3.js';
import { drizzleBetterSqlite3Layer } from './layers/drizzle-better-sqlite3.js';
import { knexSqliteLayer } from './layers/knex-sqlite.js';
import { kyselySqliteLayer } from './layers/kysely-sqlite.js';
import { prismaSqliteLayer } from './layers/prisma-sqlite.js';
import { typeormSqliteLayer } from './layers/typeorm-sqlite.js';
import { freshSqlite } from '../sqlite/sqlite-support.js';

/**
 * SQLite files in a temp directory, one per test. SQLite has one writer per file, so the
 * suite's writers take turns (`concurrentWriters: false`); the relay processes still share the
 * outbox through leased buckets.
 */
storeConformance({
  name: 'sqlite',
  fresh: async () => ({ url: freshSqlite('conf').url, options: {} }),
  // A file in a directory that does not exist: it cannot be opened (and no URL has a password).
  unreachableUrl: 'sqlite:/nonexistent-herald-dir/outbox.db',
  layers: [
    betterSqlite3Layer,
    betterSqlite3SyncLayer,
    kyselySqliteLayer,
    drizzleBetterSqlite3Layer,
    knexSqliteLayer,
    typeormSqliteLayer,
    prismaSqliteLayer,
  ],
  concurrentWriters: false,
});
