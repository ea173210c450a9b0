import Database from 'better-sqlite3';
import type { LayerTarget } from '../conformance.js';
import { fileOf } from '../../sqlite/sqlite-support.js';

/**
 * better-sqlite3 with a manual transaction around asynchronous code: BEGIN IMMEDIATE, `await
 * outbox.append(db, ...)`, COMMIT (ROLLBACK when it throws). The database outside a transaction
 * is refused.
 */
export const betterSqlite3Layer: LayerTarget = {
  name: 'better-sqlite3 (BEGIN IMMEDIATE, await append)',
  refusalHint: /db\.transaction\(\(\) =>/,
  async open(url) {
    const db = new Database(fileOf(url));
    return {
      notATransaction: db,
      async transaction(fn) {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(db);
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      },
      close: async () => void db.close(),
    };
  },
};

/** better-sqlite3's own synchronous `db.transaction(fn)`, with `appendSync` inside it. */
export const betterSqlite3SyncLayer: LayerTarget = {
  name: 'better-sqlite3 (db.transaction, appendSync)',
  refusalHint: /db\.transaction\(\(\) =>/,
  sync: true,
  async open(url) {
    const db = new Database(fileOf(url));
    return {
      notATransaction: db,
      transaction: () => Promise.reject(new Error('this layer is synchronous: use transactionSync')),
      transactionSync: (fn) => db.transaction(() => fn(db)).immediate(),
      close: async () => void db.close(),
    };
  },
};
