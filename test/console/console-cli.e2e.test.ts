import { request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { PG_URL, herald, pgClient, startHerald, uniqueName, waitFor } from '../support/services.js';

const schema = uniqueName('console_cli');
const EVENT = '01a2289c-2a35-712d-b52d-d0addbb7179f';

afterAll(async () => {
  const db = await pgClient();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

describe('herald console (the built CLI)', () => {
  it('refuses a malformed --listen before it connects, with an example on its own port', async () => {
    const r = await herald(['console', '--database', PG_URL, '--listen', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--listen must be HOST:PORT or PORT (e.g. 127.0.0.1:9465 or 9465), got 'nope'");
  });

  it('prints its address and token, serves pages behind the token, requeues with a logged action, and exits 0 on SIGTERM', async () => {
    expect((await herald(['migrate', '--database', PG_URL, '--schema', schema])).code).toBe(0);
    const db = await pgClient();
    try {
      await db.query(
        `INSERT INTO "${schema}".dead_letter (id, event_id, topic, partition_key, type, source, time, data, created_at, attempts, last_error)
         VALUES (999999, $1, 't.dead', 'k', 'x', '/s', now(), '{"a":1}', now(), 10, 'rejected by the broker: too large')`,
        [EVENT],
      );
      const child = startHerald(['console', '--database', PG_URL, '--schema', schema, '--listen', '127.0.0.1:0', '--json'], {
        HERALD_CONSOLE_TOKEN: 'token-from-the-environment',
      });
      try {
        const started = await waitFor(async () => child.log.join('').includes('"loginUrl"'), 20_000, 100);
        expect(started, child.log.join('')).toBe(true);
        const line = child.log
          .join('')
          .split('\n')
          .find((l) => l.startsWith('{"url"'))!;
        const printed = JSON.parse(line) as { url: string; loginUrl: string; token: string };
        expect(printed.token).toBe('token-from-the-environment');
        expect(printed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

        const login = await call('GET', printed.loginUrl, {});
        expect(login.status).toBe(303);
        const cookie = String(login.headers['set-cookie']).split(';')[0]!;
        expect(String(login.headers['set-cookie'])).toContain('HttpOnly');
        expect((await call('GET', printed.url, {})).status).toBe(401);
        const overview = await call('GET', printed.url, { cookie });
        expect(overview.status).toBe(200);
        expect(overview.headers['content-security-policy']).toContain("default-src 'none'");
        expect(overview.body).toContain('data-topic="t.dead"');

        // A script without Origin or Referer may post with the token in the header.
        const done = await call(
          'POST',
          new URL('/actions', printed.url).href,
          { 'content-type': 'application/x-www-form-urlencoded', 'x-herald-token': printed.token },
          `action=requeue&confirm=yes&id=${EVENT}`,
        );
        expect(done.status).toBe(200);
        expect((await db.query(`SELECT 1 FROM "${schema}".outbox WHERE event_id = $1`, [EVENT])).rowCount).toBe(1);
        expect((await db.query(`SELECT 1 FROM "${schema}".dead_letter WHERE event_id = $1`, [EVENT])).rowCount).toBe(0);
        const action = child.log
          .join('')
          .split('\n')
          .filter((l) => l.includes('"console action"'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(action).toEqual([expect.objectContaining({ level: 'info', action: 'requeue', eventIds: [EVENT], asked: 1, done: 1 })]);
      } finally {
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    } finally {
      await db.end();
    }
  });
});

function call(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
