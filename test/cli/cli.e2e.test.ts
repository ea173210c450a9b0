import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KAFKA, PG_URL, herald, pgClient, uniqueName } from '../support/services.js';

const schema = uniqueName('cli');
afterAll(async () => {
  const db = await pgClient();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

describe('herald CLI', () => {
  it('migrates, then reports the outbox state with --json', async () => {
    const migrate = await herald(['migrate', '--database', PG_URL, '--schema', schema, '--json']);
    expect(migrate.code).toBe(0);
    expect(JSON.parse(migrate.stdout)).toEqual({ schema, buckets: 32, created: true, notify: true });

    const again = await herald(['migrate', '--database', PG_URL, '--schema', schema]);
    expect(again.stdout).toContain(`checked the outbox in schema '${schema}' (32 ordering buckets)`);

    const db = await pgClient();
    await db.query(
      `INSERT INTO "${schema}".outbox (event_id, topic, partition_key, type, source, time, data) VALUES (gen_random_uuid(), 't.one', 'k', 'x', '/s', now(), '{}'), (gen_random_uuid(), 't.one', 'k', 'x', '/s', now(), '{}')`,
    );
    await db.end();
    const status = await herald(['status', '--database', PG_URL, '--schema', schema, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      pending: 2,
      deadLettered: 0,
      topics: [{ topic: 't.one', pending: 2, retrying: 0, deadLettered: 0 }],
    });
    const human = await herald(['status', '--database', PG_URL, '--schema', schema]);
    expect(human.stdout).toMatch(/pending 2, oldest .*, dead-lettered 0/);
    expect(human.stdout).toMatch(/t\.one\s+2/);
  });

  it('drops the NOTIFY trigger with --no-notify, keeps it so on a plain migrate, and puts it back with --notify', async () => {
    const quiet = uniqueName('cli_no_notify');
    const trigger = async (): Promise<number> => {
      const db = await pgClient();
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'outbox_notify'`,
        [`"${quiet}"."outbox"`],
      );
      await db.end();
      return rows[0].n as number;
    };
    try {
      const off = await herald(['migrate', '--database', PG_URL, '--schema', quiet, '--no-notify', '--json']);
      expect(off.code).toBe(0);
      expect(JSON.parse(off.stdout)).toEqual({ schema: quiet, buckets: 32, created: true, notify: false });
      expect(await trigger()).toBe(0);

      const plain = await herald(['migrate', '--database', PG_URL, '--schema', quiet]);
      expect(plain.stdout).toContain('NOTIFY trigger off');
      expect(await trigger()).toBe(0);
      const status = await herald(['status', '--database', PG_URL, '--schema', quiet]);
      expect(status.stdout).toContain('NOTIFY trigger off: polling relays find new events by their idle poll');
      expect(JSON.parse((await herald(['status', '--database', PG_URL, '--schema', quiet, '--json'])).stdout)).toMatchObject({
        notify: false,
      });

      const on = await herald(['migrate', '--database', PG_URL, '--schema', quiet, '--notify']);
      expect(on.stdout).toContain('NOTIFY trigger on: polling relays are woken at commit');
      expect(await trigger()).toBe(1);
      expect((await herald(['status', '--database', PG_URL, '--schema', quiet])).stdout).toContain('NOTIFY trigger on');
    } finally {
      const db = await pgClient();
      await db.query(`DROP SCHEMA IF EXISTS "${quiet}" CASCADE`);
      await db.end();
    }
  });

  it('refuses --notify on a store without NOTIFY, exit code 2', async () => {
    const result = await herald(['migrate', '--database', `sqlite:${join(tmpdir(), `${uniqueName('herald_notify')}.db`)}`, '--notify']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('the sqlite store has no NOTIFY; its relays always poll: drop --notify');
  });

  it('lists dead letters and requeues them into the outbox with their event ids', async () => {
    const db = await pgClient();
    const id = '01a2289c-2a35-712d-b52d-d0addbb7179f';
    await db.query(
      `INSERT INTO "${schema}".dead_letter (id, event_id, topic, partition_key, type, source, time, data, created_at, attempts, last_error)
       VALUES (999999, $1, 't.dead', 'k', 'x', '/s', now(), '{"a":1}', now(), 10, 'rejected by the broker: too large')`,
      [id],
    );
    const list = await herald(['dead-letters', '--database', PG_URL, '--schema', schema, '--json']);
    expect(JSON.parse(list.stdout)).toMatchObject([
      { eventId: id, topic: 't.dead', attempts: 10, lastError: 'rejected by the broker: too large' },
    ]);
    const requeue = await herald(['dead-letters', '--database', PG_URL, '--schema', schema, '--requeue', '--id', id]);
    expect(requeue.stdout.trim()).toBe('requeued 1 event(s) into the outbox');
    const { rows } = await db.query(`SELECT data::text, attempts FROM "${schema}".outbox WHERE event_id = $1`, [id]);
    expect(rows).toEqual([{ data: '{"a":1}', attempts: 0 }]);
    expect((await herald(['dead-letters', '--database', PG_URL, '--schema', schema])).stdout.trim()).toBe('no dead letters');
    await db.query(`DELETE FROM "${schema}".outbox WHERE event_id = $1`, [id]);
    await db.end();
  });

  it('reads options from herald.config.json and environment variables', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-cli-'));
    await writeFile(join(dir, 'herald.config.json'), JSON.stringify({ database: PG_URL, schema }));
    const fromFile = await herald(['status', '--config', join(dir, 'herald.config.json'), '--json']);
    expect(JSON.parse(fromFile.stdout).pending).toBe(2);
    const fromEnv = await herald(['status', '--json'], { HERALD_DATABASE_URL: PG_URL, HERALD_SCHEMA: schema });
    expect(JSON.parse(fromEnv.stdout).pending).toBe(2);
  });

  it('explains a wrong database URL without printing its password, exit code 2', async () => {
    const bad = await herald(['migrate', '--database', 'oracle://root:hunter2@127.0.0.1/db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("herald: option 'database' must be a database URL: postgres://");
    expect(bad.stderr).not.toContain('hunter2');
  });

  it('says how to set a missing option', async () => {
    const missing = await herald(['status'], { HERALD_DATABASE_URL: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing option 'database': pass --database, set HERALD_DATABASE_URL");
  });

  it('names an unreachable database and what to check', async () => {
    const down = await herald(['status', '--database', 'postgres://postgres:pw@127.0.0.1:1/postgres']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /cannot connect to postgresql at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres.*is the server running/,
    );
  });

  it('refuses to relay to a Kafka topic that does not exist, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-contracts-'));
    const topic = uniqueName('missing.topic');
    const contract = (await readFile('examples/orders/contracts/order-placed.v1.yaml', 'utf8')).replace(
      'value: orders.order-placed.v1',
      `value: ${topic}`,
    );
    await writeFile(join(dir, 'order-placed.yaml'), contract);
    const relay = await herald(['relay', '--database', PG_URL, '--schema', schema, '--kafka', `kafka://${KAFKA}`, '--contracts', dir]);
    expect(relay.code).toBe(1);
    expect(relay.stderr).toContain(`kafka topic '${topic}' does not exist`);
    expect(relay.stderr).toContain('--create-topics');
  });

  it('names an unreachable Kafka and what to check', async () => {
    const relay = await herald(['relay', '--database', PG_URL, '--schema', schema, '--kafka', 'kafka://127.0.0.1:9', '--fail-fast']);
    expect(relay.code).toBe(1);
    expect(relay.stderr).toContain('herald: cannot reach kafka at 127.0.0.1:9');
    expect(relay.stderr).toContain('check the address and that the broker is running');
  });

  it('refuses a malformed Kafka address', async () => {
    const relay = await herald(['relay', '--database', PG_URL, '--kafka', 'kafka://nohost']);
    expect(relay.code).toBe(2);
    expect(relay.stderr).toContain("kafka address 'nohost' must be host:port");
  });

  it('never prints the password of a Kafka address it refuses', async () => {
    const relay = await herald(['relay', '--database', PG_URL, '--broker', 'kafka://u:s3cret@127.0.0.1:9']);
    expect(relay.code).toBe(2);
    expect(relay.stderr).toContain("kafka address '***@127.0.0.1:9' must be host:port");
    expect(relay.stderr + relay.stdout).not.toContain('s3cret');
  });

  it('prints help for every command', async () => {
    for (const cmd of ['migrate', 'relay', 'status', 'dead-letters', 'demo']) {
      const help = await herald([cmd, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: herald ${cmd}`);
    }
  });
});
