import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, watch } from '../support/chromium.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole, type ConsoleServer } from '../../src/console/server.js';
import { ContractRegistry } from '../../src/contracts/registry.js';
import type { Logger } from '../../src/observe/logger.js';
import { postgresConsoleBackend } from '../../src/postgres/console-backend.js';
import { migratePostgres } from '../../src/postgres/migrate.js';
import { postgresStore } from '../../src/postgres/store.js';
import { orderPlaced } from '../support/contracts.js';
import { PG_URL, pgClient, uniqueName, waitFor } from '../support/services.js';

// Debian's Chromium through playwright-core, launched as the catalog test launches it.
const TOKEN = 'test-token-0123456789';
const ORDERS = 'orders.order-placed.v1';
const BILLING = 'billing.invoices.v1';
const DELIVERED = 'shipping.delivered.v1';
const HOSTILE_KEY = '<img src=x onerror="window.__consolePwned = 1">';
const HOSTILE_ERROR = '<script>window.__consolePwned = 1</script> broker said <b>no</b>';

// A contract whose texts try to inject markup; the catalog page must show them as text.
const HOSTILE_CONTRACT = `
apiVersion: v3.1.0
kind: DataContract
id: test.hostile-text
name: 'Hostile <i>name</i>'
version: 1.0.0
status: draft
description:
  purpose: '<script>window.__consolePwned = 1; document.title = "pwned";</script> and <img src=x onerror="window.__consolePwned = 1">'
schema:
  - name: Hostile
    logicalType: object
    properties:
      - name: key
        logicalType: string
        required: true
customProperties:
  - property: partitionKey
    value: key
`;

describe('herald console in a real Chromium against a fresh PostgreSQL schema', () => {
  const schema = uniqueName('console');
  const problems: string[] = [];
  const logLines: { message: string; fields: Record<string, unknown> }[] = [];
  let dir: string;
  let consoleServer: ConsoleServer;
  let context: BrowserContext;
  let page: Page;
  let relayId: string;

  const sql = async <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> => {
    const db = await pgClient();
    try {
      return (await db.query(text, params)).rows as T[];
    } finally {
      await db.end();
    }
  };
  const deadCount = async (topic?: string): Promise<number> =>
    Number(
      (
        await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${schema}".dead_letter ${topic === undefined ? '' : 'WHERE topic = $1'}`,
          topic === undefined ? [] : [topic],
        )
      )[0]!.n,
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-console-'));
    const contractsDir = join(dir, 'contracts');
    await mkdir(contractsDir);
    await writeFile(join(contractsDir, 'order-placed.v1.yaml'), await readFile('examples/orders/contracts/order-placed.v1.yaml', 'utf8'));
    await writeFile(join(contractsDir, 'hostile.yaml'), HOSTILE_CONTRACT);
    const contracts = await ContractRegistry.fromDir(contractsDir);
    await migratePostgres(PG_URL, { schema });

    // Seed through Herald's own writer: 5 pending orders, 31 to become dead letters, 12 to "deliver".
    const writer = postgresStore(PG_URL, { schema }).writer({ contracts, source: 'test' });
    const db = await pgClient();
    try {
      await db.query('BEGIN');
      const inputs = Array.from({ length: 48 }, (_, i) => ({
        contract: 'orders.order-placed',
        data: orderPlaced(`cust-${i % 4}`, i, { customerEmail: `person${i}@example.com` }),
      }));
      await writer.appendMany(db, inputs);
      await db.query('COMMIT');
    } finally {
      await db.end();
    }
    const ids = (await sql<{ id: string }>(`SELECT id::text FROM "${schema}".outbox ORDER BY id`)).map((r) => r.id);
    // Rows 5..35 become dead letters (27 orders, 3 billing, 1 with an unknown contract and hostile
    // texts), rows 36..47 move to a topic that the test "delivers" by deleting them.
    await sql(
      `WITH moved AS (DELETE FROM "${schema}".outbox WHERE id = ANY($1::bigint[]) RETURNING *)
       INSERT INTO "${schema}".dead_letter (id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, attempts, last_error, failed_at)
       SELECT id, event_id, topic, partition_key, type, source, subject, time, dataschema, traceparent, data, created_at, 10,
              'broker refused the event: PUBLISH_REJECTED', now() - (interval '1 second' * (100 - id)) FROM moved`,
      [ids.slice(5, 36)],
    );
    await sql(`UPDATE "${schema}".dead_letter SET topic = $1 WHERE id = ANY($2::bigint[])`, [BILLING, ids.slice(32, 35)]);
    await sql(
      `UPDATE "${schema}".dead_letter SET partition_key = $1, last_error = $2, dataschema = 'urn:herald:contract:unknown.thing:1.0.0', type = 'unknown.thing' WHERE id = $3`,
      [HOSTILE_KEY, HOSTILE_ERROR, ids[35]],
    );
    await sql(`UPDATE "${schema}".outbox SET topic = $1 WHERE id = ANY($2::bigint[])`, [DELIVERED, ids.slice(36)]);
    await sql(`UPDATE "${schema}".outbox SET created_at = now() - interval '90 seconds' WHERE topic = $1`, [ORDERS]);
    // One live polling relay holding buckets 1, 2 and 3.
    relayId = randomUUID();
    await sql(`INSERT INTO "${schema}".relay_instance (id, host, pid) VALUES ($1, 'relay-host', 4242)`, [relayId]);
    await sql(`UPDATE "${schema}".relay_lease SET owner = $1, expires_at = now() + interval '10 minutes' WHERE bucket IN (1, 2, 3)`, [
      relayId,
    ]);

    const logger: Logger = {
      debug: () => undefined,
      info: (message, fields = {}) => logLines.push({ message, fields }),
      warn: (message, fields = {}) => logLines.push({ message, fields }),
      error: (message, fields = {}) => logLines.push({ message, fields }),
    };
    consoleServer = await startConsole({
      backend: postgresConsoleBackend(PG_URL, { schema }),
      token: TOKEN,
      port: 0,
      contracts,
      broker: 'kafka://127.0.0.1:9092',
      sampleIntervalMs: 250,
      pageSize: 25,
      logger,
    });
    // "Deliver" the DELIVERED topic in three steps, each on its own connection so that its
    // statistics are flushed when it ends, giving the sparkline a few real rates.
    for (const n of [3, 4, 5]) {
      await sql(`DELETE FROM "${schema}".outbox WHERE id IN (SELECT id FROM "${schema}".outbox WHERE topic = $1 ORDER BY id LIMIT $2)`, [
        DELIVERED,
        n,
      ]);
      await new Promise((r) => setTimeout(r, 700));
    }

    context = await launchChromium(join(dir, 'user-data'));
    page = await context.newPage();
    watch(page, problems);
    // The printed login address sets the cookie and redirects to the overview.
    await page.goto(consoleServer.loginUrl, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await context?.close();
    await consoleServer?.close();
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('shows per topic the pending events, oldest age and dead letters that the database holds, without console errors', async () => {
    expect(new URL(page.url()).search).toBe('');
    const pending = await sql<{ topic: string; n: number }>(`SELECT topic, count(*)::int AS n FROM "${schema}".outbox GROUP BY topic`);
    const dead = await sql<{ topic: string; n: number }>(`SELECT topic, count(*)::int AS n FROM "${schema}".dead_letter GROUP BY topic`);
    const topics = new Set([...pending, ...dead].map((r) => r.topic));
    expect(await page.locator('tr.topic').count()).toBe(topics.size);
    for (const topic of topics) {
      const row = page.locator(`tr.topic[data-topic="${topic}"]`);
      expect(await row.locator('[data-field="pending"]').textContent()).toBe(String(pending.find((r) => r.topic === topic)?.n ?? 0));
      expect((await row.locator('[data-field="dead"]').textContent())?.trim()).toBe(String(dead.find((r) => r.topic === topic)?.n ?? 0));
    }
    const oldest = Number(await page.locator(`tr.topic[data-topic="${ORDERS}"] [data-field="oldest"]`).getAttribute('data-seconds'));
    expect(oldest).toBeGreaterThanOrEqual(90);
    expect(oldest).toBeLessThan(200);
    expect(await page.locator('#totals [data-field="pending"]').textContent()).toBe(String(pending.reduce((s, r) => s + r.n, 0)));
    expect(await page.locator('#totals [data-field="dead"]').textContent()).toBe(String(await deadCount()));
    expect(problems).toEqual([]);
  });

  it('lists the live relay with the buckets it leases, and a delivery rate from the samples', async () => {
    const relay = page.locator(`tr.relay[data-relay="${relayId}"]`);
    expect(await relay.locator('[data-field="buckets"]').textContent()).toBe('1, 2, 3');
    const ok = await waitFor(async () => {
      await page.goto(consoleServer.url);
      return (await page.locator('figure.rate polyline').count()) === 1;
    }, 10_000);
    expect(ok).toBe(true);
    // 12 rows were deleted from the outbox after the console started: some interval saw them.
    expect(Number(await page.locator('figure.rate').getAttribute('data-peak'))).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  it('pages through dead letters with error and attempts, masking payloads by the contract and hostile texts shown as text', async () => {
    await page.goto(new URL('/dead-letters', consoleServer.url).href);
    expect(await page.locator('#total').getAttribute('data-total')).toBe(String(await deadCount()));
    expect(await page.locator('tr.dead-letter').count()).toBe(25);
    const first = (
      await sql<{ event_id: string; attempts: number; last_error: string }>(
        `SELECT event_id::text, attempts, last_error FROM "${schema}".dead_letter ORDER BY failed_at, id LIMIT 1`,
      )
    )[0]!;
    const row = page.locator(`tr.dead-letter[data-event-id="${first.event_id}"]`);
    expect(await row.locator('[data-field="attempts"]').textContent()).toBe(String(first.attempts));
    expect(await row.locator('[data-field="error"]').textContent()).toBe(first.last_error);
    const payload = (await row.locator('pre.payload').textContent())!;
    expect(await row.locator('pre.payload').getAttribute('data-masking')).toBe('contract');
    // customerEmail is `pii` with piiTreatment mask: only the domain stays; customerId is not personal.
    expect(payload).toMatch(/"customerEmail": "\*\*\*\*@example\.com"/);
    expect(payload).not.toMatch(/person\d+@/);
    expect(payload).toMatch(/"customerId": "cust-\d"/);

    await page.locator('a[rel="next"]').click();
    expect(await page.locator('tr.dead-letter').count()).toBe((await deadCount()) - 25);
    const hostile = page.locator('tr.dead-letter', { has: page.locator('[data-field="key"]', { hasText: 'onerror' }) });
    expect(await hostile.locator('[data-field="key"]').textContent()).toBe(HOSTILE_KEY);
    expect(await hostile.locator('[data-field="error"]').textContent()).toBe(HOSTILE_ERROR);
    // No contract is loaded for it, so every value is masked.
    expect(await hostile.locator('pre.payload').getAttribute('data-masking')).toBe('all');
    expect(await hostile.locator('pre.payload').textContent()).not.toMatch(/@example\.com|cust-/);
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await page.evaluate('window.__consolePwned')).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('requeues one dead letter through the confirmation step: the row moves to the outbox and is recorded', async () => {
    await page.goto(new URL('/dead-letters', consoleServer.url).href);
    const eventId = (await page.locator('tr.dead-letter').first().getAttribute('data-event-id'))!;
    const before = await deadCount();
    await page.locator(`tr.dead-letter[data-event-id="${eventId}"] button.requeue`).click();
    // The confirmation page changes nothing.
    expect(await page.locator('#confirm-what').textContent()).toContain(eventId);
    expect(await deadCount()).toBe(before);
    await page.locator('#confirm').click();
    expect(await page.locator('#result').getAttribute('data-done')).toBe('1');
    expect(await sql(`SELECT 1 FROM "${schema}".dead_letter WHERE event_id = $1`, [eventId])).toHaveLength(0);
    expect(await sql(`SELECT 1 FROM "${schema}".outbox WHERE event_id = $1`, [eventId])).toHaveLength(1);
    expect(logLines).toContainEqual({
      message: 'console action',
      fields: expect.objectContaining({ action: 'requeue', eventIds: [eventId], done: 1 }),
    });
    await page.goto(consoleServer.url);
    expect(await page.locator('tr.action[data-action="requeue"][data-done="1"]').count()).toBe(1);
    expect(problems).toEqual([]);
  });

  it('drops every dead letter of one topic after confirmation, and leaves the other topics alone', async () => {
    const others = (await deadCount()) - (await deadCount(BILLING));
    await page.goto(new URL(`/dead-letters?topic=${BILLING}`, consoleServer.url).href);
    expect(await page.locator('tr.dead-letter').count()).toBe(3);
    await page.locator('#drop-all').click();
    await page.locator('#confirm').click();
    expect(await page.locator('#result').getAttribute('data-done')).toBe('3');
    expect(await deadCount(BILLING)).toBe(0);
    expect(await deadCount()).toBe(others);
    expect(logLines).toContainEqual({
      message: 'console action',
      fields: expect.objectContaining({ action: 'drop', topic: BILLING, done: 3 }),
    });
    expect(problems).toEqual([]);
  });

  it('takes the README screenshot of the overview, with a relay and some deliveries', async () => {
    // Keep the seeded relay alive and "deliver" a few batches, so the picture shows a real rate.
    await sql(`UPDATE "${schema}".relay_instance SET seen_at = now() WHERE id = $1`, [relayId]);
    for (const n of [6, 14, 9, 18, 11, 16]) {
      await sql(
        `INSERT INTO "${schema}".outbox (event_id, topic, partition_key, type, source, time, data)
         SELECT gen_random_uuid(), $1, 'k' || i, 'shipping.delivered', 'test', now(), '{}' FROM generate_series(1, $2::int) i`,
        [DELIVERED, n],
      );
      await sql(`DELETE FROM "${schema}".outbox WHERE topic = $1`, [DELIVERED]);
      await new Promise((r) => setTimeout(r, 400));
    }
    const ok = await waitFor(async () => {
      await page.goto(consoleServer.url);
      return Number(await page.locator('figure.rate').getAttribute('data-peak')) > 0;
    }, 10_000);
    expect(ok).toBe(true);
    const shot = 'docs/console.png';
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);
    expect(problems).toEqual([]);
  });

  it('refuses a POST without the token, or with a wrong one, with 403 and changes nothing', async () => {
    const before = await deadCount();
    const origin = new URL(consoleServer.url).origin;
    for (const body of ['action=requeue&scope=all&confirm=yes', 'action=requeue&scope=all&confirm=yes&token=wrong-token-000']) {
      const res = await post(consoleServer.url, body, { origin });
      expect(res.status).toBe(403);
    }
    // Reading pages needs the token too.
    expect((await get(consoleServer.url, {})).status).toBe(401);
    expect(await deadCount()).toBe(before);
  });

  it('refuses a cross-origin POST even with the right token, from a real page on another origin and from a forged Origin or Host', async () => {
    const before = await deadCount();
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><form method="post" action="${consoleServer.url}actions">
        <input name="token" value="${TOKEN}"><input name="action" value="requeue"><input name="scope" value="all"><input name="confirm" value="yes">
        <button id="go">go</button></form>`);
    });
    // Chromium may open (pre)connections to the other origin at any time; each is destroyed at
    // the end, so closing the server never waits on one.
    const sockets = new Set<Socket>();
    let closing = false;
    evil.on('connection', (s) => {
      if (closing) return void s.destroy();
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const other = await step('opening a page', context.newPage());
      const answer = other.waitForResponse((r) => r.url().endsWith('/actions'));
      await step('loading the other origin', other.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`));
      await step('submitting its form', other.locator('#go').click());
      expect((await step("the console's answer", answer)).status()).toBe(403);
      // The 403 page is a cross-origin navigation: Chromium drops a close that races its commit
      // and page.close() then never ends (crbug.com/536385539, playwright#41900), so it loads first.
      await step(
        'loading the answer',
        other.waitForURL((u) => u.pathname === '/actions'),
      );
      await step('closing the page', other.close());
    } finally {
      // close() stops accepting; closeAllConnections() ends the keep-alive and preconnected
      // sockets Chromium holds, so the close never waits on the browser.
      closing = true;
      const closed = new Promise((resolve) => evil.close(resolve));
      evil.closeAllConnections();
      for (const s of sockets) s.destroy();
      await step('closing the other origin', closed);
    }
    expect(
      (await post(consoleServer.url, `action=requeue&scope=all&confirm=yes&token=${TOKEN}`, { origin: 'http://evil.example' })).status,
    ).toBe(403);
    expect(
      (await post(consoleServer.url, `action=requeue&scope=all&confirm=yes&token=${TOKEN}`, { referer: 'http://evil.example/x' })).status,
    ).toBe(403);
    // DNS rebinding: a hostile name resolving to 127.0.0.1 still sends its own Host.
    expect((await post(consoleServer.url, `action=requeue&scope=all&confirm=yes&token=${TOKEN}`, { host: 'evil.example' })).status).toBe(
      403,
    );
    expect(await deadCount()).toBe(before);
  });

  it('shows the contract catalog with a hostile description as text and no script run', async () => {
    await page.goto(new URL('/catalog', consoleServer.url).href);
    const hostile = page.locator('section.contract[data-contract="test.hostile-text"]');
    expect(await hostile.textContent()).toContain('<script>window.__consolePwned = 1;');
    expect(await hostile.textContent()).toContain('<img src=x onerror=');
    expect(await page.title()).not.toBe('pwned');
    expect(await page.evaluate('window.__consolePwned')).toBeUndefined();
    expect(await page.locator('section.contract img, section.contract script').count()).toBe(0);
    expect(problems).toEqual([]);
  });
});

/** `p`, or a failure naming `what` after `ms`: a hang names its step instead of timing the test out. */
async function step<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no end in ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A raw form POST to the console's /actions, with the headers given (Host, Origin, Referer). */
function post(base: string, body: string, headers: Record<string, string>): Promise<{ status: number }> {
  return send(base, 'POST', { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body);
}

function get(base: string, headers: Record<string, string>): Promise<{ status: number }> {
  return send(base, 'GET', headers, undefined);
}

function send(base: string, method: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number }> {
  const u = new URL(method === 'POST' ? '/actions' : '/', base);
  return new Promise((resolve, reject) => {
    // A bounded wait: a console that never answers fails this request by name, not the test by timeout.
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method, headers, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${u.pathname} with ${JSON.stringify(headers)}: no answer in 10 s`)));
    req.end(body);
  });
}

/** Collects console errors, page errors, failed requests and HTTP errors of `page` into `problems`. */
