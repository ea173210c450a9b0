import Database from 'better-sqlite3';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portConsoleBackend } from '../../src/console/port-backend.js';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { storeFor } from '../../src/store/store-url.js';
import { fileOf, freshSqlite } from '../sqlite/sqlite-support.js';

const TOKEN = 'sqlite-console-token';
const IDS = ['01a2289c-2a35-712d-b52d-d0addbb71701', '01a2289c-2a35-712d-b52d-d0addbb71702', '01a2289c-2a35-712d-b52d-d0addbb71703'];

describe('herald console over the common store port (SQLite)', () => {
  const { url } = freshSqlite('console');
  let server: ConsoleServer;
  let cookie: string;

  beforeAll(async () => {
    const store = await storeFor(url);
    await store.migrate();
    const db = new Database(fileOf(url));
    const insert = db.prepare(
      `INSERT INTO herald_dead_letter (id, event_id, topic, partition_key, type, source, time, data, created_at, attempts, last_error, failed_at)
       VALUES (?, ?, ?, 'k', 'x', '/s', '2026-12-07T00:00:00Z', '{"email":"a@example.com"}', 0, 7, 'refused', ?)`,
    );
    IDS.forEach((id, i) => insert.run(i + 1, id, i < 2 ? 't.a' : 't.b', 1000 + i));
    db.close();
    server = await startConsole({ backend: portConsoleBackend(store), token: TOKEN, port: 0 });
    cookie = String((await call('GET', server.loginUrl, {})).headers['set-cookie']).split(';')[0]!;
  });

  afterAll(async () => {
    await server?.close();
  });

  it('shows the backlog and dead letters the port gives, without payloads, and hides what the port lacks', async () => {
    const overview = await call('GET', server.url, { cookie });
    expect(overview.body).toMatch(/<tr class="topic" data-topic="t\.a">[\s\S]*?data-field="dead">\s*<a[^>]*>2<\/a>/);
    expect(overview.body).toContain('the sqlite store does not list relays');
    const list = await call('GET', new URL('/dead-letters?topic=t.a', server.url).href, { cookie });
    expect(list.body).toContain('data-total="2"');
    expect(list.body).toContain('payload kept in the database');
    expect(list.body).not.toContain('a@example.com');
    expect(list.body).not.toContain('drop…');
  });

  it('redirects a login to its own path only, never to another host', async () => {
    // Raw request paths that a URL parser would turn into `//evil.example`.
    for (const path of [`/.//evil.example/x?token=${TOKEN}&topic=t.a`, `//evil.example/x?token=${TOKEN}&topic=t.a`]) {
      const res = await call('GET', server.url, {}, undefined, path);
      expect(res.status).toBe(303);
      expect(res.headers.location).toMatch(/^\/(?!\/)[^?]*x\?topic=t\.a$/);
    }
    expect((await call('GET', new URL('/?token=wrong-token', server.url).href, {})).status).toBe(403);
  });

  it('requeues a topic through the port and refuses drop with 400, changing nothing', async () => {
    const form = (body: string): Promise<Awaited<ReturnType<typeof call>>> =>
      call(
        'POST',
        new URL('/actions', server.url).href,
        { 'content-type': 'application/x-www-form-urlencoded', 'x-herald-token': TOKEN },
        body,
      );
    expect((await form(`action=drop&confirm=yes&id=${IDS[2]}`)).status).toBe(400);
    const done = await form('action=requeue&confirm=yes&topic=t.a');
    expect(done.body).toContain('data-done="2"');
    const store = await storeFor(url);
    expect((await store.deadLetters()).map((l) => l.eventId)).toEqual([IDS[2]]);
    expect((await store.status()).pending).toBe(2);
    expect(server.actions.recent[0]).toMatchObject({ action: 'requeue', scope: { topic: 't.a' }, asked: 2, done: 2 });
  });
});

function call(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: string,
  rawPath?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: rawPath ?? u.pathname + u.search, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
