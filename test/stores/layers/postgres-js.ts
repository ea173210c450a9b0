import postgres from 'postgres';
import type { LayerTarget } from '../conformance.js';

/** postgres.js: the sql of sql.begin(); the root sql is refused. */
export const postgresJsLayer: LayerTarget = {
  name: 'postgres.js',
  refusalHint: /sql\.begin/,
  async open(url) {
    const sql = postgres(url, { max: 2, onnotice: () => undefined });
    return {
      notATransaction: sql,
      transaction: (fn) => sql.begin((tx) => fn(tx)) as never,
      close: () => sql.end(),
    };
  },
};
