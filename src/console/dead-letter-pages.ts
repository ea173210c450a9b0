import type { ConsoleBackend, DeadLetterPage } from './backend.js';
import { html, type SafeHtml } from './html.js';
import { page } from './layout.js';
import type { PayloadMasker } from './mask.js';

/** What the dead-letter list shows: one page of one filter. */
export interface DeadLetterListData {
  readonly page: DeadLetterPage;
  /** The topic filter; undefined shows every topic. */
  readonly topic: string | undefined;
  /** Topics that have dead letters, for the filter's choices. */
  readonly topics: readonly string[];
  readonly offset: number;
  readonly limit: number;
  readonly can: ConsoleBackend['can'];
  readonly masker: PayloadMasker;
  readonly catalog: boolean;
}

/** What an action means: some ids, or every dead letter of a topic (`undefined`: every topic). */
export type ActionScope = { readonly ids: readonly string[] } | { readonly topic: string | undefined };

/**
 * The dead-letter browser: filter by topic, one page of letters (oldest first) with the error,
 * attempts and the payload masked by the contract's personal-data rules, links to the previous
 * and next page, and per letter and per filter the requeue and drop buttons. The buttons only
 * lead to the confirmation page (a GET that changes nothing). Hooks: `tr.dead-letter[data-event-id]`
 * with `[data-field]` cells, `pre.payload[data-masking]`, `#total`.
 */
export function renderDeadLetters(d: DeadLetterListData): string {
  const { total, letters } = d.page;
  const q = (offset: number): string =>
    `/dead-letters?${new URLSearchParams({ ...(d.topic === undefined ? {} : { topic: d.topic }), offset: String(offset) }).toString()}`;
  const scopeFields =
    d.topic === undefined
      ? html`<input type="hidden" name="scope" value="all" />`
      : html`<input type="hidden" name="topic" value="${d.topic}" />`;
  return page(
    { title: 'Dead letters', current: 'dead-letters', catalog: d.catalog },
    html` <form method="get" action="/dead-letters" id="filter">
        <label
          >topic
          <select name="topic">
            <option value="">every topic</option>
            ${d.topics.map((t) => html`<option value="${t}" ${t === d.topic ? html` selected` : ''}>${t}</option>`)}
          </select></label
        >
        <button type="submit">show</button>
      </form>
      <p id="total" data-total="${total}">
        ${total} dead
        letter(s)${d.topic === undefined ? '' : html` in <code>${d.topic}</code>`}${
          total > 0 ? `, showing ${d.offset + 1}–${d.offset + letters.length}` : ''
        }.
      </p>
      ${
        total === 0
          ? ''
          : html`<div class="bulk">
                <form class="inline" method="get" action="/confirm">
                  <input type="hidden" name="action" value="requeue" />${scopeFields}<button type="submit" id="requeue-all">
                    requeue all ${total}${d.topic === undefined ? '' : ' of this topic'}…
                  </button>
                </form>
                ${d.can.drop ? html`<form class="inline" method="get" action="/confirm"><input type="hidden" name="action" value="drop" />${scopeFields}<button type="submit" class="danger" id="drop-all">drop all ${total}${d.topic === undefined ? '' : ' of this topic'}…</button></form>` : ''}
              </div>
              <table id="dead-letters">
                <thead>
                  <tr>
                    <th>failed at</th>
                    <th>event</th>
                    <th>attempts</th>
                    <th>last error</th>
                    <th>payload</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${letters.map((l) => {
                    const shown = l.data === undefined ? undefined : d.masker.mask(l.data, l.dataschema, l.type);
                    return html`<tr class="dead-letter" data-event-id="${l.eventId}">
                      <td data-field="failed-at">${l.failedAt}</td>
                      <td>
                        <code data-field="event-id">${l.eventId}</code><br />topic <code data-field="topic">${l.topic}</code>, key
                        <code data-field="key">${l.partitionKey}</code><br /><span class="muted">${l.type}</span>
                      </td>
                      <td class="num" data-field="attempts">${l.attempts}</td>
                      <td class="error" data-field="error">${l.lastError}</td>
                      <td>${payload(shown)}</td>
                      <td>
                        <form method="get" action="/confirm">
                          <input type="hidden" name="action" value="requeue" /><input type="hidden" name="id" value="${l.eventId}" /><button
                            type="submit"
                            class="requeue"
                          >
                            requeue…
                          </button>
                        </form>
                        ${d.can.drop ? html`<form method="get" action="/confirm"><input type="hidden" name="action" value="drop" /><input type="hidden" name="id" value="${l.eventId}" /><button type="submit" class="danger drop">drop…</button></form>` : ''}
                      </td>
                    </tr>`;
                  })}
                </tbody>
              </table>
              <p>
                ${d.offset > 0 ? html`<a href="${q(Math.max(0, d.offset - d.limit))}" rel="prev">← newer page</a>` : ''}
                ${d.offset + letters.length < total ? html`<a href="${q(d.offset + d.limit)}" rel="next">next page →</a>` : ''}
              </p>`
      }`,
  );
}

function payload(shown: ReturnType<PayloadMasker['mask']> | undefined): SafeHtml {
  if (shown === undefined) return html`<span class="muted">payload kept in the database</span>`;
  const note =
    shown.masking === 'contract'
      ? html`personal data masked by <code>${shown.contract ?? ''}</code>`
      : 'no contract for this event: every value masked';
  return html`<details>
    <summary class="muted">${note}</summary>
    <pre class="payload" data-masking="${shown.masking}">${shown.text}</pre>
  </details>`;
}

/** What the confirmation page shows: the action, its scope and what it would touch now. */
export interface ConfirmData {
  readonly action: 'requeue' | 'drop';
  readonly scope: ActionScope;
  /** How many dead letters the action would touch, counted now. */
  readonly count: number;
  readonly token: string;
  readonly catalog: boolean;
}

/**
 * The confirmation step: says what will happen to how many dead letters and offers one POST
 * form (with the token and `confirm=yes`) and a way back. Nothing changes until it is sent.
 */
export function renderConfirm(d: ConfirmData): string {
  const what =
    'ids' in d.scope
      ? html`${d.count} dead letter(s): ${d.scope.ids.map((id) => html`<code>${id}</code> `)}`
      : html`all ${d.count} dead letter(s) ${d.scope.topic === undefined ? 'of every topic' : html`of topic <code>${d.scope.topic}</code>`}`;
  const effect =
    d.action === 'requeue'
      ? 'They go back into the outbox with their event ids, and the relay delivers them again.'
      : 'They are deleted for good; their events are never delivered.';
  const fields =
    'ids' in d.scope
      ? d.scope.ids.map((id) => html`<input type="hidden" name="id" value="${id}" />`)
      : d.scope.topic === undefined
        ? html`<input type="hidden" name="scope" value="all" />`
        : html`<input type="hidden" name="topic" value="${d.scope.topic}" />`;
  return page(
    { title: `Confirm ${d.action}`, current: 'none', catalog: d.catalog },
    html` <p id="confirm-what">${d.action === 'requeue' ? 'Requeue' : 'Drop'} ${what}?</p>
      <p>${effect}</p>
      ${
        d.count === 0
          ? html`<p class="muted">nothing matches any more.</p>`
          : html`<form method="post" action="/actions" id="confirm-form">
              <input type="hidden" name="token" value="${d.token}" /><input type="hidden" name="action" value="${d.action}" /><input
                type="hidden"
                name="confirm"
                value="yes"
              />
              ${fields}
              <button type="submit" id="confirm" ${d.action === 'drop' ? html` class="danger"` : ''}>yes, ${d.action} ${d.count}</button>
            </form>`
      }
      <p><a href="/dead-letters">cancel</a></p>`,
  );
}

/** The page after an action: what was done, and links on. */
export function renderResult(action: 'requeue' | 'drop', asked: number, done: number, catalog: boolean): string {
  const verb = action === 'requeue' ? 'requeued into the outbox' : 'dropped';
  return page(
    { title: 'Done', current: 'none', catalog },
    html` <p id="result" data-done="${done}">
        ${done} of ${asked} dead letter(s)
        ${verb}.${done < asked ? ' The others were no longer dead letters (another console or relay got there first).' : ''}
      </p>
      <p><a href="/dead-letters">back to the dead letters</a> · <a href="/">overview</a></p>`,
  );
}

/** A short page for refusals and errors, with the status code the server sends. */
export function renderMessage(title: string, message: string | SafeHtml, catalog: boolean): string {
  return page(
    { title, current: 'none', catalog },
    html`<div id="message">${message}</div>
      <p><a href="/">overview</a></p>`,
  );
}
