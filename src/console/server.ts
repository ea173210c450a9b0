import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContractRegistry } from '../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { silentLogger, type Logger } from '../observe/logger.js';
import { OutboxStatusMonitor } from '../observe/outbox-status-monitor.js';
import { ActionLog } from './action-log.js';
import type { ConsoleBackend } from './backend.js';
import { renderMessage } from './dead-letter-pages.js';
import { DeliveryRate } from './delivery-rate.js';
import { html } from './html.js';
import { PayloadMasker } from './mask.js';
import { getRoute, postAction, type Answer, type RouteContext } from './routes.js';
import { consoleCsp, cookieOf, hostAllowed, sameOrigin, tokenCookie, tokenHeader, tokenMatches } from './security.js';

/** The port `herald console` listens on by default (next to the relay's metrics port, 9464). */
export const defaultConsolePort = 9465;

/** Options of {@link startConsole}; defaults in {@link consoleDefaults}. */
export interface ConsoleOptions {
  readonly backend: ConsoleBackend;
  /** The secret every request must carry (cookie after the first visit, form field or header on POST). */
  readonly token: string;
  /** Listen address; default 127.0.0.1 (loopback only). */
  readonly host?: string;
  /** Listen port; 0 picks a free one. Default {@link defaultConsolePort}. */
  readonly port?: number;
  /** Contracts: payload masking by their personal-data rules, and the catalog page. */
  readonly contracts?: ContractRegistry;
  /** Shown on the overview (password removed by the caller). */
  readonly broker?: string;
  /** How often the status and the delivery counter are sampled, in ms. */
  readonly sampleIntervalMs?: number;
  /** Dead letters per page. */
  readonly pageSize?: number;
  /** Where actions are logged as structured lines. */
  readonly logger?: Logger;
}

/** The defaults of {@link ConsoleOptions}, in one table. */
export const consoleDefaults = { host: '127.0.0.1', port: defaultConsolePort, sampleIntervalMs: 5_000, pageSize: 25 } as const;

/** A running console. */
export interface ConsoleServer {
  /** The address to open, e.g. `http://127.0.0.1:9465/` (the real port when 0 was asked for). */
  readonly url: string;
  /** `url` with the token, which sets the console's cookie on first visit. */
  readonly loginUrl: string;
  /** The recorded actions (also logged). */
  readonly actions: ActionLog;
  /** Stops sampling and listening; idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts the web console: server-rendered pages over `node:http`, no script. Guarantees:
 * every request must name one of the console's own hosts (DNS rebinding is refused with 403)
 * and carry the token (pages: the cookie set by `?token=`, or the header); state changes are
 * `POST /actions` only, need the token in the form or the `x-herald-token` header (compared in
 * constant time) and an `Origin`/`Referer` of the console itself, else 403 and nothing changes;
 * every page is built with one escaping helper and sent with a CSP that allows no script.
 * Resolves once listening; a port in use rejects with `CONFIG_INVALID` naming `--listen`.
 */
export async function startConsole(options: ConsoleOptions): Promise<ConsoleServer> {
  const o = { ...consoleDefaults, ...options };
  if (o.token.length < 8) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, 'option token must be at least 8 characters', { details: { option: 'token' } });
  }
  const log = o.logger ?? silentLogger;
  let statusError: string | undefined;
  const monitor = new OutboxStatusMonitor({
    read: () => o.backend.status(),
    intervalMs: o.sampleIntervalMs,
    logger: log,
    onRead: (err) => (statusError = err === undefined ? undefined : err instanceof Error ? err.message : String(err)),
  });
  const rate = new DeliveryRate();
  const actions = new ActionLog(log);
  const ctx: RouteContext = {
    backend: o.backend,
    monitor,
    statusError: () => statusError,
    rate,
    actions,
    masker: new PayloadMasker(o.contracts),
    contracts: o.contracts,
    broker: o.broker,
    token: o.token,
    pageSize: o.pageSize,
  };
  const allowedHosts = new Set<string>();
  const server: Server = createServer((req, res) => {
    handle(ctx, allowedHosts, req, res).catch((err: unknown) => {
      log.error('console request failed', { path: req.url?.split('?')[0], error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent)
        send(res, { status: 500, body: renderMessage('Error', err instanceof Error ? err.message : String(err), false) });
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new HeraldError(ErrorCodes.CONFIG_INVALID, `--listen ${o.host}:${o.port}: cannot listen (${cause.code ?? cause.message})`, {
          cause,
          details: { option: 'listen' },
        }),
      ),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostPart = o.host.includes(':') ? `[${o.host}]` : o.host;
  for (const h of [hostPart, '127.0.0.1', 'localhost']) allowedHosts.add(`${h.toLowerCase()}:${port}`);
  await monitor.start();
  const sample = async (): Promise<void> => {
    const total = await o.backend.deliveredTotal().catch(() => undefined);
    if (total !== undefined) rate.record(total);
  };
  await sample();
  const timer = setInterval(() => void sample(), o.sampleIntervalMs);
  timer.unref();
  const url = `http://${hostPart}:${port}/`;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      clearInterval(timer);
      await monitor.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await o.backend.close();
    })());
  return { url, loginUrl: `${url}?token=${encodeURIComponent(o.token)}`, actions, close, [Symbol.asyncDispose]: close };
}

async function handle(ctx: RouteContext, hosts: ReadonlySet<string>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://console.invalid');
  const catalog = ctx.contracts !== undefined;
  if (!hostAllowed(req, hosts)) return send(res, refused('this console answers only to its own address', catalog));
  if (req.method === 'POST') {
    if (url.pathname !== '/actions')
      return send(res, { status: 404, body: renderMessage('Not found', 'only /actions takes a POST', catalog) });
    if (!sameOrigin(req, hosts)) return send(res, refused('cross-origin request refused', catalog));
    const form = await readForm(req);
    if (form === undefined)
      return send(res, {
        status: 415,
        body: renderMessage('Bad request', 'send a form (application/x-www-form-urlencoded, at most 1 MiB)', catalog),
      });
    const header = req.headers[tokenHeader];
    if (!tokenMatches(typeof header === 'string' ? header : (form.get('token') ?? undefined), ctx.token)) {
      return send(res, refused('the console token is missing or wrong', catalog));
    }
    return send(res, await postAction(ctx, form, req.socket.remoteAddress ?? 'unknown'));
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, { status: 405, body: '', headers: { allow: 'GET, HEAD, POST' } });
  const given = url.searchParams.get('token');
  if (given !== null) {
    if (!tokenMatches(given, ctx.token)) return send(res, refused('wrong token', catalog));
    // Move the token from the address bar (and history) into a cookie scripts cannot read.
    url.searchParams.delete('token');
    return send(res, {
      status: 303,
      body: '',
      headers: {
        // One leading slash: `//host` would be a redirect to another site.
        location: `/${url.pathname.replace(/^\/+/, '')}${url.search}`,
        'set-cookie': `${tokenCookie}=${encodeURIComponent(ctx.token)}; HttpOnly; SameSite=Strict; Path=/`,
      },
    });
  }
  const header = req.headers[tokenHeader];
  if (!tokenMatches(cookieOf(req, tokenCookie) ?? (typeof header === 'string' ? header : undefined), ctx.token)) {
    return send(res, { status: 401, body: login(url.pathname) });
  }
  const answer = await getRoute(ctx, url);
  send(res, req.method === 'HEAD' ? { ...answer, body: '' } : answer);
}

function refused(message: string, catalog: boolean): Answer {
  return { status: 403, body: renderMessage('Forbidden', message, catalog) };
}

function login(path: string): string {
  return renderMessage(
    'Token required',
    html`This console needs the token it printed at start.
      <form method="get" action="${path}">
        <label>token <input type="password" name="token" autocomplete="off" /></label> <button type="submit">open</button>
      </form>`,
    false,
  );
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': consoleCsp,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    // Same-origin referrers keep the Referer check working without leaking paths elsewhere.
    'referrer-policy': 'same-origin',
    'cache-control': 'no-store',
    ...answer.headers,
  });
  res.end(answer.body);
}

/** The body of a form POST, or undefined when it is not a form or is larger than 1 MiB. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 1024 * 1024) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
