import 'reflect-metadata';
import { DataSource } from 'typeorm';
import type { LayerTarget } from '../conformance.js';

/** TypeORM on mariadb (mysql2): the manager of dataSource.transaction(); the DataSource is refused. */
export const typeormMysqlLayer: LayerTarget = {
  name: 'typeorm (mariadb, mysql2)',
  refusalHint: /dataSource\.transaction\(async \(manager\)/,
  async open(url) {
    const dataSource = await new DataSource({
      type: 'mariadb',
      connectorPackage: 'mysql2',
      url,
      poolSize: 2,
      supportBigNumbers: true,
      bigNumberStrings: true,
    }).initialize();
    return {
      notATransaction: dataSource,
      transaction: (fn) => dataSource.transaction((manager) => fn(manager)),
      close: () => dataSource.destroy(),
    };
  },
};
