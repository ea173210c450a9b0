import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, PG_URL, exited, herald, pgClient, uniqueName, waitFor } from '../support/services.js';

const schema = uniqueName('conventions');

async function insertDeadLetters(n: number, topic = 't.dead'): Promise<void> {
  const db = await pgClient();
  await db.query(
    `INSERT INTO "${schema}".dead_letter (id, event_id, topic, partition_key, type, source, time, data, created_at, attempts, last_error)
     SELECT 900000 + i, gen_random_uuid(), $2, 'k' || (i % 7), 'x', '/s', now(), '{}', now(), 10, 'refused'
     FROM generate_series(1, $1::int) AS i`,
    [n, topic],
  );
  await db.end();
}

async function clear(): Promise<void> {
  const db = await pgClient();
  await db.query(`DELETE FROM "${schema}".dead_letter; DELETE FROM "${schema}".outbox`);
  await db.end();
}

beforeAll(async () => {
  expect((await herald(['migrate', '--database', PG_URL, '--schema', schema])).code).toBe(0);
});
afterAll(async () => {
  const db = await pgClient();
  await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
});

describe('the herald CLI as people expect it (built CLI, real PostgreSQL)', () => {
  it('prints the version of package.json with --version and -V', async () => {
    const { version } = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const run = await herald([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout.trim()).toBe(version);
    }
  });

  it('exits 0 when status has nothing to warn about, 1 with a dead letter, and 0 again with --exit-zero', async () => {
    await clear();
    const args = ['status', '--database', PG_URL, '--schema', schema];
    const calm = await herald([...args, '--json']);
    expect(calm.code, calm.stderr).toBe(0);
    expect(JSON.parse(calm.stdout).warnings).toEqual([]);

    await insertDeadLetters(1);
    const warned = await herald([...args, '--json']);
    expect(warned.code).toBe(1);
    expect(JSON.parse(warned.stdout).warnings).toEqual([expect.stringContaining("1 dead-lettered event(s) in 't.dead'")]);
    expect(warned.stderr).toContain("herald: warning: 1 dead-lettered event(s) in 't.dead'");
    const kept = await herald([...args, '--exit-zero']);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/dead-lettered 1/);
    expect(kept.stderr).toContain('herald: warning:');
  });

  it('warns, and exits 1, when the oldest pending event is older than --max-age', async () => {
    await clear();
    const db = await pgClient();
    await db.query(
      `INSERT INTO "${schema}".outbox (event_id, topic, partition_key, type, source, time, data, created_at)
       VALUES (gen_random_uuid(), 't.old', 'k', 'x', '/s', now(), '{}', now() - interval '10 minutes')`,
    );
    await db.end();
    const args = ['status', '--database', PG_URL, '--schema', schema, '--json'];
    const old = await herald(args);
    expect(old.code).toBe(1);
    expect(JSON.parse(old.stdout).warnings).toEqual([expect.stringMatching(/^the oldest pending event waits for 10m/)]);
    expect((await herald([...args, '--max-age', '3600'])).code).toBe(0);
  });

  it('re-renders with --watch, one JSON object per line, until SIGINT, then exits 0', async () => {
    await clear();
    await insertDeadLetters(2);
    const child = spawn('node', [CLI, 'status', '--database', PG_URL, '--schema', schema, '--json', '--watch', '0.3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const lines = (): string[] => stdout.split('\n').filter(Boolean);
    expect(await waitFor(async () => lines().length >= 3, 20_000)).toBe(true);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
    const renders = lines().map((l) => JSON.parse(l) as { time: string; deadLettered: number });
    expect(renders.length).toBeGreaterThanOrEqual(3);
    for (const r of renders) expect(r).toMatchObject({ deadLettered: 2, time: expect.any(String) });
    // Piped: the screen is never cleared.
    expect(stdout).not.toContain('\x1b');
  });

  it('re-renders the human table with --watch and never clears a screen that is not a terminal', async () => {
    const child = spawn('node', [CLI, 'status', '--database', PG_URL, '--schema', schema, '--watch', '0.3', '--exit-zero'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    expect(await waitFor(async () => (stdout.match(/^pending /gm) ?? []).length >= 2, 20_000), stdout + stderr).toBe(true);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
    expect(stdout).not.toContain('\x1b');
  });

  it('redraws the screen in place with --watch on a terminal, and exits 0 on SIGINT', async () => {
    const command = `node ${CLI} status --database ${PG_URL} --schema ${schema} --watch 0.3 --exit-zero`;
    // script(1) gives the CLI a pseudo-terminal; its own SIGINT ends the CLI under it.
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await waitFor(async () => out.split('\x1b[H\x1b[2Jherald status, every 0.3s: ').length - 1 >= 2, 20_000), out).toBe(true);
    expect(out).toMatch(/pending \d+, oldest/);
    child.kill('SIGINT');
    expect(await exited(child)).toBe(0);
  });

  it('requeues thousands of dead letters in batches, printing no progress when stderr is piped', async () => {
    await clear();
    await insertDeadLetters(2500);
    const run = await herald(['dead-letters', '--database', PG_URL, '--schema', schema, '--requeue']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim()).toBe('requeued 2500 event(s) into the outbox');
    expect(run.stderr).toBe('');
    const db = await pgClient();
    const { rows } = await db.query(
      `SELECT (SELECT count(*) FROM "${schema}".outbox)::int AS outbox, (SELECT count(*) FROM "${schema}".dead_letter)::int AS dead`,
    );
    await db.end();
    expect(rows[0]).toEqual({ outbox: 2500, dead: 0 });
  });

  it('shows a progress line on stderr when it is a terminal', async () => {
    await clear();
    await insertDeadLetters(2500);
    // script(1) gives the CLI a pseudo-terminal, as a person's shell would.
    const command = `node ${CLI} dead-letters --database ${PG_URL} --schema ${schema} --requeue`;
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await exited(child)).toBe(0);
    expect(out).toContain('requeued: 2500/2500 (100%)');
    expect(out).toContain('requeued 2500 event(s) into the outbox');
  });
});
