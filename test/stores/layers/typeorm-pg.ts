import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { LayerTarget } from '../conformance.js';

/** TypeORM on postgres (pg): the manager of dataSource.transaction(); the DataSource is refused. */
export const typeormPgLayer: LayerTarget = {
  name: 'typeorm (postgres)',
  refusalHint: /dataSource\.transaction\(async \(manager\)/,
  async open(url) {
    const dataSource = await new DataSource({ type: 'postgres', url, poolSize: 2 }).initialize();
    return {
      notATransaction: dataSource,
      transaction: (fn) => dataSource.transaction((manager) => fn(manager)),
      close: () => dataSource.destroy(),
    };
  },
};
