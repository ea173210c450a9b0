// A private PostgreSQL cluster for the chaos suite: its own data directory and port, created at
// start and deleted at the end, so that an immediate restart never touches the machine's shared
// cluster (other suites and helpers use it).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { onCleanup } from '../cleanup.js';
import { freePort, run, sleep, waitUntil } from '../util.js';

/** Options of {@link PrivatePostgres.start}. */
export interface PrivatePostgresOptions {
  /** Port on 127.0.0.1; default a free one. */
  readonly port?: number;
  /** Longest wait for the server to accept connections, in ms. Default 60000. */
  readonly startTimeoutMs?: number;
}

/** The newest installed server binaries (Debian keeps one directory per major version). */
function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (!newest) throw new Error(`no PostgreSQL server binaries under ${base}/*/bin (install postgresql)`);
  return join(base, newest, 'bin');
}

/** uid/gid of the `postgres` user when we are root: the server refuses to run as root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** Roles in this group must give their password (scram-sha-256); all others are trusted. */
export const PASSWORD_LOGIN_GROUP = 'chaos_password_login';

/**
 * A PostgreSQL server on 127.0.0.1 with `wal_level=logical`, trust authentication for
 * `postgres`, and a short `wal_sender_timeout` (5 s) so that a stalled logical relay's slot is
 * freed quickly. `fsync` is off: an immediate stop here is a process crash (the kernel keeps the
 * written pages), not a power loss, and the shared 2-core machine is spared the flushes.
 * {@link stop} deletes the data directory; it also runs on exit and on Ctrl-C.
 */
export class PrivatePostgres {
  readonly port: number;
  readonly dir: string;
  readonly #bin: string;
  readonly #user: { uid: number; gid: number } | undefined;
  readonly #startTimeoutMs: number;
  #version = '';
  #unregister: (() => void) | undefined;

  private constructor(port: number, dir: string, startTimeoutMs: number) {
    this.port = port;
    this.dir = dir;
    this.#bin = binDir();
    this.#user = serverUser();
    this.#startTimeoutMs = startTimeoutMs;
  }

  /** Creates the cluster and starts it; rejects (and deletes it) if it does not come up in time. */
  static async start(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
    const port = options.port ?? (await freePort());
    const dir = mkdtempSync(join(tmpdir(), 'herald-chaos-pg-'));
    const server = new PrivatePostgres(port, dir, options.startTimeoutMs ?? 60_000);
    server.#unregister = onCleanup(
      `private PostgreSQL on ${port}`,
      () => server.stop(),
      () => server.#stopSync(),
    );
    try {
      await server.#init();
      await server.#start();
      const c = await server.client();
      try {
        await c.query(`CREATE ROLE ${PASSWORD_LOGIN_GROUP} NOLOGIN`);
        server.#version = (await c.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
      } finally {
        await c.end();
      }
    } catch (err) {
      await server.stop();
      throw err;
    }
    return server;
  }

  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /**
   * Creates a superuser `role` (replication too) that must log in with `password` (a member of
   * {@link PASSWORD_LOGIN_GROUP}); resolves with its URL. Change it with {@link setPassword}.
   */
  async createPasswordRole(role: string, password: string): Promise<string> {
    const c = await this.client();
    try {
      await c.query(`CREATE ROLE ${role} LOGIN SUPERUSER REPLICATION IN ROLE ${PASSWORD_LOGIN_GROUP} PASSWORD '${password}'`);
    } finally {
      await c.end();
    }
    return `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/postgres`;
  }

  /** `ALTER ROLE role PASSWORD ...`: open sessions keep working, new logins need the new one. */
  async setPassword(role: string, password: string): Promise<void> {
    const c = await this.client();
    try {
      await c.query(`ALTER ROLE ${role} PASSWORD '${password}'`);
    } finally {
      await c.end();
    }
  }

  /** The server version, e.g. `15.14 (Debian 15.14-0+deb12u1)`. */
  get version(): string {
    return this.#version;
  }

  /** A connected client to this server (the caller ends it). */
  async client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  /**
   * `pg_ctl stop -m immediate` (every backend dies at once, no checkpoint: crash recovery on the
   * next start), then, after `downMs`, start again on the same data. Resolves once it serves.
   */
  async restartImmediate(downMs = 0): Promise<void> {
    await this.#ctl(['stop', '-m', 'immediate', '-w', '-t', '30']);
    if (downMs > 0) await sleep(downMs);
    await this.#start();
  }

  /** Stops the server at once and deletes its data directory. Idempotent. */
  async stop(): Promise<void> {
    this.#unregister?.();
    this.#unregister = undefined;
    if (existsSync(join(this.dir, 'postmaster.pid'))) {
      await this.#ctl(['stop', '-m', 'immediate', '-w', '-t', '30']).catch(() => this.#stopSync());
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  #stopSync(): void {
    try {
      execFileSync(join(this.#bin, 'pg_ctl'), ['-D', this.dir, 'stop', '-m', 'immediate', '-w', '-t', '10'], {
        stdio: 'ignore',
        ...(this.#user ?? {}),
      });
    } catch {
      // Not running (or already gone): deleting the directory below is all that is left.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #init(): Promise<void> {
    if (this.#user) chownSync(this.dir, this.#user.uid, this.#user.gid);
    await run(join(this.#bin, 'initdb'), ['-D', this.dir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], {
      ...(this.#user ?? {}),
      timeoutMs: 120_000,
      cwd: this.dir,
    });
    appendFileSync(
      join(this.dir, 'postgresql.conf'),
      [
        '',
        '# herald chaos suite',
        `port = ${this.port}`,
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${this.dir}'`,
        'wal_level = logical',
        'max_replication_slots = 20',
        'max_wal_senders = 20',
        "wal_sender_timeout = '5s'",
        'max_connections = 100',
        "shared_buffers = '32MB'",
        'fsync = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(this.dir, 'pg_hba.conf'),
      // Members of PASSWORD_LOGIN_GROUP log in with a password (the credentials-rotated row
      // changes it under a running relay); everyone else is trusted.
      [
        `host all +${PASSWORD_LOGIN_GROUP} 127.0.0.1/32 scram-sha-256`,
        `host replication +${PASSWORD_LOGIN_GROUP} 127.0.0.1/32 scram-sha-256`,
        'local all all trust',
        'host all all 127.0.0.1/32 trust',
        'host replication all 127.0.0.1/32 trust',
        '',
      ].join('\n'),
    );
  }

  async #start(): Promise<void> {
    const seconds = Math.ceil(this.#startTimeoutMs / 1000);
    await this.#ctl(['start', '-w', '-t', String(seconds), '-l', join(this.dir, 'server.log')], this.#startTimeoutMs + 5_000);
    const up = await waitUntil(async () => {
      const c = await this.client();
      await c.end();
      return true;
    }, this.#startTimeoutMs);
    if (!up) throw new Error(`private PostgreSQL on 127.0.0.1:${this.port} did not accept connections (log ${this.dir}/server.log)`);
  }

  async #ctl(args: string[], timeoutMs = 60_000): Promise<void> {
    await run(join(this.#bin, 'pg_ctl'), ['-D', this.dir, ...args], { ...(this.#user ?? {}), timeoutMs, cwd: this.dir });
  }
}
