import { portConsoleBackend } from '../../console/port-backend.js';
import { newToken } from '../../console/security.js';
import { consoleDefaults, startConsole } from '../../console/server.js';
import type { ConsoleBackend } from '../../console/backend.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { consoleLogger } from '../../observe/logger.js';
import { parseMetricsAddress } from '../../observe/metrics-address.js';
import { redactUrl } from '../../store/redact-url.js';
import { storeFor, storeKindOf } from '../../store/store-url.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { onStopSignals } from '../stop-signals.js';

/** Flags of `herald console`. */
export interface ConsoleFlags extends Partial<HeraldConfig> {
  config?: string;
  json?: boolean;
  /** `HOST:PORT` or `PORT`; default `127.0.0.1:9465`. */
  listen?: string;
  /** The access token; default: a random one (env `HERALD_CONSOLE_TOKEN`). */
  token?: string;
}

/**
 * `herald console`: serves the web console until SIGTERM/SIGINT, and prints its address and the
 * address with the token (stdout; with `--json` one JSON line `{ url, loginUrl, token }`) once it
 * listens. The token comes from `--token`, else `HERALD_CONSOLE_TOKEN`, else is random per start.
 * PostgreSQL gets every part of the console; MySQL and SQLite what the common store port gives.
 */
export async function consoleCommand(flags: ConsoleFlags): Promise<void> {
  const config = await loadConfig(flags);
  const database = required(config, 'database', '--database', 'HERALD_DATABASE_URL');
  const address = parseMetricsAddress(flags.listen ?? `${consoleDefaults.host}:${consoleDefaults.port}`, '--listen', consoleDefaults.port);
  const log = consoleLogger({ json: flags.json === true });
  const schema = config.schema === undefined ? {} : { schema: config.schema };
  const backend: ConsoleBackend =
    storeKindOf(database) === 'postgres'
      ? (await import('../../postgres/console-backend.js')).postgresConsoleBackend(database, {
          ...schema,
          ...(config.slot === undefined ? {} : { slot: config.slot }),
        })
      : portConsoleBackend(await storeFor(database, schema));
  const contracts = config.contracts === undefined ? undefined : await ContractRegistry.fromDir(config.contracts);
  const broker = config.broker ?? config.kafka;
  const token = flags.token ?? (process.env.HERALD_CONSOLE_TOKEN || undefined) ?? newToken();
  const server = await startConsole({
    backend,
    token,
    host: address.host,
    port: address.port,
    ...(contracts === undefined ? {} : { contracts }),
    ...(broker === undefined ? {} : { broker: redactUrl(broker) }),
    logger: log,
  });
  if (!['127.0.0.1', 'localhost', '::1'].includes(address.host)) {
    log.warn('the console listens beyond this machine; anyone who can reach it and has the token can requeue and drop dead letters', {
      listen: server.url,
    });
  }
  process.stdout.write(
    flags.json === true
      ? JSON.stringify({ url: server.url, loginUrl: server.loginUrl, token }) + '\n'
      : `herald console listening on ${server.url}\ntoken: ${token}\nopen: ${server.loginUrl}\n`,
  );
  await new Promise<void>((resolve) => {
    const remove = onStopSignals(
      log,
      () => {
        remove();
        resolve();
      },
      'closing the console',
      'nothing is lost',
    );
  });
  await server.close();
}
