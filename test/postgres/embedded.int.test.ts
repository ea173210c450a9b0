import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/postgres/embedded.js';

const moduleUnderTest = fileURLToPath(new URL('../../src/postgres/embedded.ts', import.meta.url));

async function query(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

async function refusesConnections(url: string): Promise<boolean> {
  return query(url, 'SELECT 1').then(
    () => false,
    () => true,
  );
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

describe('startEmbeddedPostgres', () => {
  const servers: EmbeddedPostgres[] = [];
  const dirs: string[] = [];

  /** A data dir whose parent Herald creates, as `herald demo` does (under the sticky /tmp). */
  function newDataDir(): string {
    const root = path.join(tmpdir(), `herald-pg-test-${randomUUID()}`);
    dirs.push(root);
    return path.join(root, 'postgres');
  }

  async function start(dataDir: string): Promise<EmbeddedPostgres> {
    const server = await startEmbeddedPostgres({ dataDir });
    servers.push(server);
    return server;
  }

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('starts a server with wal_level logical on a free loopback port that is not 5432', async () => {
    const server = await start(newDataDir());
    expect(server.port).not.toBe(5432);
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
    expect(server.displayUrl).not.toContain(new URL(server.url).password);
    expect(await query(server.url, 'SHOW wal_level')).toEqual([{ wal_level: 'logical' }]);
    expect(await query(server.url, 'SHOW server_encoding')).toEqual([{ server_encoding: 'UTF8' }]);
  });

  it('stops idempotently, after which the server refuses connections', async () => {
    const server = await start(newDataDir());
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    expect(await refusesConnections(server.url)).toBe(true);
    expect(existsSync(path.join(server.dataDir, 'postmaster.pid'))).toBe(false);
  });

  it('keeps a table created in the first run when started again on the same data dir', async () => {
    const dataDir = newDataDir();
    const first = await start(dataDir);
    await query(first.url, 'CREATE TABLE kept (id int PRIMARY KEY, note text)');
    await query(first.url, "INSERT INTO kept VALUES (1, 'from the first run')");
    await first.stop();

    const second = await start(dataDir);
    expect(await query(second.url, 'SELECT id, note FROM kept')).toEqual([{ id: 1, note: 'from the first run' }]);
    expect(await query(second.url, 'SHOW wal_level')).toEqual([{ wal_level: 'logical' }]);
  });

  it('keeps the password in a 0600 file next to the data dir and accepts no other', async () => {
    const dataDir = newDataDir();
    const server = await start(dataDir);
    const file = `${dataDir}.password`;
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const password = (await readFile(file, 'utf8')).trim();
    expect(decodeURIComponent(new URL(server.url).password)).toBe(password);
    const wrong = new URL(server.url);
    wrong.password = 'not-the-password';
    expect(await refusesConnections(wrong.toString())).toBe(true);
  });

  it('refuses a second server on a data dir in use, naming the data dir and its postmaster.pid', async () => {
    const dataDir = newDataDir();
    await start(dataDir);
    const err = await startEmbeddedPostgres({ dataDir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.DATABASE_ERROR });
    expect((err as Error).message).toContain(dataDir);
    expect((err as Error).message).toContain('postmaster.pid');
  });

  it('refuses a directory that is not empty and holds no cluster', async () => {
    const dataDir = newDataDir();
    await mkdir(dataDir, { recursive: true });
    await writeFile(path.join(dataDir, 'stray.txt'), 'x');
    const err = await startEmbeddedPostgres({ dataDir }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.CONFIG_INVALID, message: expect.stringContaining(`'${dataDir}' is not empty`) });
  });

  it.runIf(process.getuid?.() === 0)('refuses, when root, a data dir the postgres user cannot reach, naming the directory', async () => {
    // mkdtemp makes a 0700 directory owned by root, which Herald must not open up on its own.
    const root = await mkdtemp(path.join(tmpdir(), 'herald-pg-private-'));
    dirs.push(root);
    const err = await startEmbeddedPostgres({ dataDir: path.join(root, 'postgres') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCodes.CONFIG_INVALID, message: expect.stringContaining(`'${root}' is not searchable`) });
  });

  it('leaves no server behind when the process exits without stop or ends by SIGTERM', async () => {
    const root = path.dirname(newDataDir());
    await mkdir(root, { recursive: true });
    const script = path.join(root, 'child.mts');
    await writeFile(
      script,
      `import { startEmbeddedPostgres } from ${JSON.stringify(moduleUnderTest)};
const server = await startEmbeddedPostgres({ dataDir: process.argv[2] });
process.stdout.write(JSON.stringify({ url: server.url }) + '\\n');
if (process.argv[3] === 'exit') process.exit(0);
setInterval(() => {}, 1000);
`,
    );
    const run = async (mode: 'exit' | 'wait'): Promise<{ url: string; dataDir: string; code: number | null; signal: string | null }> => {
      const dataDir = path.join(root, mode);
      const child = spawn(process.execPath, ['--import', 'tsx', script, dataDir, mode], {
        cwd: process.cwd(),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const line = out.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve((JSON.parse(line) as { url: string }).url);
        });
        child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
      });
      if (mode === 'wait') child.kill('SIGTERM');
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
        else child.once('exit', (c, s) => resolve([c, s]));
      });
      return { url, dataDir, code, signal };
    };

    const exited = await run('exit');
    expect(exited.code).toBe(0);
    expect(await eventually(() => !existsSync(path.join(exited.dataDir, 'postmaster.pid')))).toBe(true);
    expect(await refusesConnections(exited.url)).toBe(true);

    const terminated = await run('wait');
    // The signal is re-raised after the server stopped, so the process still ends by SIGTERM.
    expect(terminated.signal).toBe('SIGTERM');
    expect(await eventually(() => !existsSync(path.join(terminated.dataDir, 'postmaster.pid')))).toBe(true);
    expect(await refusesConnections(terminated.url)).toBe(true);
  });
});
