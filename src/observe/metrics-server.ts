import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { MetricsAddress } from './metrics-address.js';
import type { Readiness } from './readiness.js';

/** A running metrics and health server. */
export interface MetricsServer {
  /** The address it listens on (the real port when 0 was asked for). */
  readonly address: MetricsAddress;
  close(): Promise<void>;
}

/**
 * Serves, on one HTTP listener, `GET /metrics` (the registry in Prometheus text format),
 * `GET /healthz` (200 `{"status":"alive"}` while the process runs: its event loop answers) and
 * `GET /readyz` (200 when every readiness check passes, else 503; the JSON body names each
 * check and what is wrong). Anything else is 404, a method other than GET or HEAD 405. Resolves
 * once listening; a port in use or a host that does not exist rejects with `CONFIG_INVALID`
 * naming the flag. No request reads the database or the broker: the checks and the gauges
 * read memory, so a probe storm costs only this process.
 */
export async function startMetricsServer(
  address: MetricsAddress,
  registry: Registry,
  readiness: Readiness,
  flag = '--metrics',
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(body) + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') return json(200, { status: 'alive' });
    if (path === '/readyz') {
      const report = readiness.report();
      return json(report.ready ? 200 : 503, { status: report.ready ? 'ready' : 'not ready', checks: report.checks });
    }
    if (path === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => json(500, { error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    json(404, { error: 'not found; try /metrics, /healthz or /readyz' });
  });
  // Scrapers keep connections alive; do not let an idle one hold the process at shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new HeraldError(
          ErrorCodes.CONFIG_INVALID,
          `${flag} ${address.host}:${address.port}: cannot listen (${cause.code ?? cause.message})`,
          {
            cause,
            details: { option: flag.replace(/^--/, '') },
          },
        ),
      ),
    );
    server.listen(address.port, address.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: address.host, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
