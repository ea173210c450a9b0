import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { LayerTarget } from '../conformance.js';
import { fileOf } from '../../sqlite/sqlite-support.js';

/** TypeORM's better-sqlite3 driver: the manager of dataSource.transaction(); the DataSource is refused. */
export const typeormSqliteLayer: LayerTarget = {
  name: 'typeorm (better-sqlite3)',
  refusalHint: /dataSource\.transaction\(async \(manager\)/,
  async open(url) {
    const dataSource = await new DataSource({ type: 'better-sqlite3', database: fileOf(url) }).initialize();
    return {
      notATransaction: dataSource,
      transaction: (fn) => dataSource.transaction((manager) => fn(manager)),
      close: () => dataSource.destroy(),
    };
  },
};
