import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { startConsole } from '../../src/console/server.js';
import { postgresConsoleBackend } from '../../src/postgres/console-backend.js';
import { migratePostgres, postgresOutboxStatus } from '../../src/postgres/migrate.js';
import { PG_URL, pgClient, uniqueName } from '../support/services.js';

const schema = uniqueName('console_slot');
const slot = `${schema}_relay`;

afterAll(async () => {
  const db = await pgClient();
  await db.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [slot]);
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

describe('herald console with the logical relay', () => {
  it('shows the replication slot with the lag and WAL status that herald status reads, and no polling relay', async () => {
    await migratePostgres(PG_URL, { schema, logical: {} });
    const db = await pgClient();
    // Some WAL past the slot's confirmed position, so that there is a lag to show.
    await db.query(`INSERT INTO "${schema}".outbox (event_id, topic, partition_key, type, source, time, data)
                    SELECT gen_random_uuid(), 't.slot', 'k' || i, 'x', '/s', now(), '{}' FROM generate_series(1, 50) i`);
    await db.end();
    const server = await startConsole({ backend: postgresConsoleBackend(PG_URL, { schema }), token: 'slot-console-token', port: 0 });
    try {
      const res = await get(server.loginUrl);
      const page = await get(server.url, String(res.headers['set-cookie']).split(';')[0]);
      const expected = (await postgresOutboxStatus(PG_URL, { schema })).slot!;
      expect(page.body).toContain(`<dl id="slot" data-slot="${slot}">`);
      expect(page.body).toContain('no relay streaming');
      expect(page.body).toMatch(new RegExp(`<dt>WAL</dt>\\s*<dd>${expected.walStatus!}`));
      expect(expected.lagBytes).toBeGreaterThan(0);
      expect(page.body).toMatch(/data-field="lag-bytes">\s*[\d.]+ (B|kB|MB)/);
      expect(page.body).toContain('no polling relay seen in the last minute (a logical relay streams the slot below)');
    } finally {
      await server.close();
    }
  });
});

function get(
  url: string,
  cookie?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: cookie ? { cookie } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}
