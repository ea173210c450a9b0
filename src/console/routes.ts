import { compatibilityHistory } from '../cli/commands/contract-docs.js';
import { renderCatalog } from '../contracts/catalog.js';
import type { ContractRegistry } from '../contracts/registry.js';
import type { OutboxStatusMonitor } from '../observe/outbox-status-monitor.js';
import type { ActionLog } from './action-log.js';
import type { ConsoleBackend } from './backend.js';
import { renderConfirm, renderDeadLetters, renderMessage, renderResult, type ActionScope } from './dead-letter-pages.js';
import type { DeliveryRate } from './delivery-rate.js';
import type { PayloadMasker } from './mask.js';
import { renderOverview } from './overview-page.js';

/** The most dead letters one requeue or drop of a filtered set touches; the rest need another. */
export const maxActionSize = 10_000;

/** A rendered answer: status, HTML body, and headers beyond the console's defaults. */
export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What the route handlers share, built once by the server. */
export interface RouteContext {
  readonly backend: ConsoleBackend;
  readonly monitor: OutboxStatusMonitor;
  readonly statusError: () => string | undefined;
  readonly rate: DeliveryRate;
  readonly actions: ActionLog;
  readonly masker: PayloadMasker;
  readonly contracts: ContractRegistry | undefined;
  readonly broker: string | undefined;
  readonly token: string;
  readonly pageSize: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The read-only pages (`/`, `/dead-letters`, `/confirm`, `/catalog`). None of them changes
 * anything; the server has already checked the token. Unknown paths answer 404.
 */
export async function getRoute(ctx: RouteContext, url: URL): Promise<Answer> {
  const catalog = ctx.contracts !== undefined;
  switch (url.pathname) {
    case '/': {
      // A human looks at this page: read the status now rather than show the last timer read.
      await ctx.monitor.refresh();
      const relays = ctx.backend.can.relays ? await ctx.backend.relays() : [];
      const statusError = ctx.statusError();
      return ok(
        renderOverview({
          status: ctx.monitor.status,
          ...(statusError === undefined ? {} : { statusError }),
          relays,
          rate: ctx.rate.points,
          actions: ctx.actions.recent,
          can: ctx.backend.can,
          kind: ctx.backend.kind,
          broker: ctx.broker,
          catalog,
        }),
      );
    }
    case '/dead-letters': {
      const topic = url.searchParams.get('topic') || undefined;
      const offset = Math.max(0, Math.floor(Number(url.searchParams.get('offset') ?? 0)) || 0);
      await ctx.monitor.refresh();
      const topics = (ctx.monitor.status?.topics ?? []).filter((t) => t.deadLettered > 0).map((t) => t.topic);
      const page = await ctx.backend.deadLetterPage(topic === undefined ? {} : { topic }, offset, ctx.pageSize);
      return ok(renderDeadLetters({ page, topic, topics, offset, limit: ctx.pageSize, can: ctx.backend.can, masker: ctx.masker, catalog }));
    }
    case '/confirm': {
      const action = actionOf(url.searchParams.get('action'));
      const scope = scopeOf(url.searchParams);
      if (action === undefined || scope === undefined)
        return bad('the confirmation needs an action (requeue or drop) and event ids, a topic or scope=all', catalog);
      if (action === 'drop' && !ctx.backend.can.drop) return bad(`the ${ctx.backend.kind} store cannot drop dead letters`, catalog);
      const count =
        'ids' in scope
          ? scope.ids.length
          : (await ctx.backend.deadLetterPage(scope.topic === undefined ? {} : { topic: scope.topic }, 0, 0)).total;
      return ok(renderConfirm({ action, scope, count: Math.min(count, maxActionSize), token: ctx.token, catalog }));
    }
    case '/catalog': {
      if (!ctx.contracts)
        return {
          status: 404,
          body: renderMessage('No catalog', 'start the console with --contracts DIR to see the contract catalog', false),
        };
      const contracts = ctx.contracts.list();
      const body = renderCatalog(contracts, { history: compatibilityHistory(contracts) });
      // The catalog carries its own policy (its filter script is allowed by hash); send that one.
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/
        .exec(body)?.[1]
        ?.replace(/&#39;/g, "'")
        .replace(/&quot;/g, '"');
      return { status: 200, body, headers: csp === undefined ? {} : { 'content-security-policy': `${csp}; frame-ancestors 'none'` } };
    }
    default:
      return { status: 404, body: renderMessage('Not found', 'no such page', catalog) };
  }
}

/**
 * `POST /actions`: a confirmed requeue or drop of the given ids, or of every dead letter of a
 * topic (or all) at most {@link maxActionSize}. Requeue goes through the store's own requeue;
 * every attempt is recorded in the action log, failed or not. The server has already checked
 * the origin and the token.
 */
export async function postAction(ctx: RouteContext, form: URLSearchParams, client: string): Promise<Answer> {
  const catalog = ctx.contracts !== undefined;
  const action = actionOf(form.get('action'));
  const scope = scopeOf(form);
  if (action === undefined || scope === undefined)
    return bad('an action needs action=requeue|drop and event ids, a topic or scope=all', catalog);
  if (form.get('confirm') !== 'yes') return bad('the action was not confirmed; use the confirmation page', catalog);
  if (action === 'drop' && !ctx.backend.can.drop) return bad(`the ${ctx.backend.kind} store cannot drop dead letters`, catalog);
  const recordScope = 'ids' in scope ? { ids: scope.ids } : { topic: scope.topic ?? '*' };
  let ids: readonly string[] = [];
  try {
    ids =
      'ids' in scope ? scope.ids : await ctx.backend.deadLetterIds(scope.topic === undefined ? {} : { topic: scope.topic }, maxActionSize);
    // An empty list must never reach the store: the port reads "no ids" as "every dead letter".
    const done = ids.length === 0 ? 0 : action === 'requeue' ? await ctx.backend.requeue(ids) : await ctx.backend.drop(ids);
    ctx.actions.record({ at: new Date().toISOString(), action, scope: recordScope, asked: ids.length, done, client });
    await ctx.monitor.refresh();
    return ok(renderResult(action, ids.length, done, catalog));
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    ctx.actions.record({ at: new Date().toISOString(), action, scope: recordScope, asked: ids.length, done: 0, client, error });
    return { status: 500, body: renderMessage('Action failed', `cannot ${action} dead letters: ${error}`, catalog) };
  }
}

function ok(body: string): Answer {
  return { status: 200, body };
}

function bad(message: string, catalog: boolean): Answer {
  return { status: 400, body: renderMessage('Bad request', message, catalog) };
}

function actionOf(v: string | null): 'requeue' | 'drop' | undefined {
  return v === 'requeue' || v === 'drop' ? v : undefined;
}

/** Ids (each a UUID, at most {@link maxActionSize}), else a topic, else `scope=all`; anything else is no scope. */
function scopeOf(p: URLSearchParams): ActionScope | undefined {
  const ids = p.getAll('id').filter((id) => id !== '');
  if (ids.length > 0) return ids.length <= maxActionSize && ids.every((id) => UUID.test(id)) ? { ids: [...new Set(ids)] } : undefined;
  const topic = p.get('topic');
  if (topic) return { topic };
  return p.get('scope') === 'all' ? { topic: undefined } : undefined;
}
