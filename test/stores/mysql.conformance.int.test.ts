import { storeConformance } from './conformance.js';
import { prismaMariadbLayer } from './layers/prisma-mariadb.js';
import { typeormMysqlLayer } from './layers/typeorm-mysql.js';
import { knexMysqlLayer } from './layers/knex-mysql.js';
import { drizzleMysql2Layer } from './layers/drizzle-mysql2.js';
import { kyselyMysqlLayer } from './layers/kysely-mysql.js';
import { mysql2Layer } from './layers/mysql2.js';
import { MYSQL_URL, mysqlConnection } from '../mysql/mysql-support.js';
import { uniqueName } from '../support/services.js';

/**
 * MariaDB 10.11 on 127.0.0.1:3306 (or HERALD_TEST_MYSQL). Each test gets its own database,
 * which holds both the service's connection and Herald's tables, as in a service.
 */
storeConformance({
  name: 'mysql',
  async fresh() {
    const name = uniqueName('conf');
    const admin = await mysqlConnection();
    await admin.query(`CREATE DATABASE \`${name}\``);
    await admin.end();
    const url = new URL(MYSQL_URL);
    url.pathname = `/${name}`;
    return { url: url.toString(), options: { schema: name } };
  },
  unreachableUrl: 'mysql://herald:conformance-secret@127.0.0.1:1/app',
  layers: [mysql2Layer, kyselyMysqlLayer, drizzleMysql2Layer, knexMysqlLayer, typeormMysqlLayer, prismaMariadbLayer],
  concurrentWriters: true,
});
