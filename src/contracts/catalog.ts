import { createHash } from 'node:crypto';
import { piiTreatmentOf, PiiTreatments } from '../warehouse/pii.js';
import type { CompatibilityMode, Contract, OdcsProperty, SlaProperty } from './contract.js';
import { validValuesOf } from './json-schema.js';
import { compareVersions, groupVersions } from './registry.js';

/**
 * The result of one compatibility check of a contract version against earlier versions, as the
 * catalog shows it. The catalog only renders these; it does not compute them.
 */
export interface CatalogHistoryEntry {
  /** The version that was checked. */
  readonly version: string;
  /** The mode it was checked under. */
  readonly mode: CompatibilityMode;
  /** The versions it was compared with; empty for the first version of a contract. */
  readonly comparedWith: readonly string[];
  readonly verdict: 'compatible' | 'breaks';
  /** What the check found, one sentence each (breaking changes, or notes on compatible ones). */
  readonly findings: readonly string[];
}

/** Options of {@link renderCatalog}. */
export interface CatalogOptions {
  /** The page title and main heading; default `Herald contract catalog`. */
  readonly title?: string;
  /** Compatibility history per contract id. A version without an entry is shown as "not checked". */
  readonly history?: ReadonlyMap<string, readonly CatalogHistoryEntry[]>;
  /** Shown as the generation time; when absent, the page carries no time, so equal input gives an equal page. */
  readonly generatedAt?: Date;
}

/**
 * Renders contracts as one self-contained HTML page: an index of event types, then per event
 * type every version (latest first) with its routing, service levels, fields, examples, and its
 * compatibility history. The page has no external assets and makes no requests, so it works from
 * `file://`; its Content-Security-Policy allows only its own inline style and script (by hash).
 *
 * Every text that comes from a contract file is HTML-escaped, so a contract cannot inject markup.
 *
 * Stable hooks for tests and tools:
 * - `section.contract[data-contract="<id>"]` with `id="contract-<id>"` (the index links to it);
 * - `article.version[data-contract="<id>"][data-version="<version>"]` with `id="contract-<id>-v<version>"`;
 * - `tr.index-row[data-contract="<id>"]` in the index;
 * - `tr.field[data-field="<path>"]` with `data-pii="true"|"false"` and, for personal data,
 *   `data-pii-treatment="hash"|"mask"|"drop"`; nested paths are `parent.child`, items of an array
 *   of objects `parent[].child`;
 * - `tr.history-row[data-version]` with `data-verdict="compatible"|"breaks"|"not-checked"`.
 *
 * Throws `CONTRACT_INVALID` when two contracts share an id and version (their anchors would clash).
 */
export function renderCatalog(contracts: readonly Contract[], options: CatalogOptions = {}): string {
  const title = options.title ?? 'Herald contract catalog';
  const groups = groupById(contracts);
  const versionCount = contracts.length;
  const styleHash = cspHash(STYLE);
  const scriptHash = cspHash(SCRIPT);
  const csp = [
    "default-src 'none'",
    `style-src '${styleHash}'`,
    `script-src '${scriptHash}'`,
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const generated =
    options.generatedAt === undefined
      ? ''
      : ` Generated <time datetime="${esc(options.generatedAt.toISOString())}">${esc(options.generatedAt.toISOString())}</time>.`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="herald contract docs">
<link rel="icon" href="data:,">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="page-header">
<h1>${esc(title)}</h1>
<p class="summary">${plural(groups.length, 'event type')}, ${plural(versionCount, 'contract version')}.${generated}</p>
</header>
<nav aria-labelledby="index-heading" class="index">
<h2 id="index-heading">Event types</h2>
${groups.length === 0 ? '<p class="empty">No contracts.</p>' : renderIndex(groups)}
</nav>
<main>
${groups.map((g) => renderContract(g, options.history?.get(g.id) ?? [])).join('\n')}
</main>
<footer><p>Personal data is marked <span class="badge pii">PII</span> with what the warehouse loader does to it: <b>hash</b> (HMAC-SHA256 with the loader's key), <b>mask</b> (<code>****</code>, keeping an e-mail's domain) or <b>drop</b> (never stored).</p></footer>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** All versions of one contract id, latest first. */
interface Group {
  readonly id: string;
  readonly versions: readonly Contract[];
}

function groupById(contracts: readonly Contract[]): Group[] {
  const byId = groupVersions(contracts);
  return [...byId.keys()].sort().map((id) => ({ id, versions: [...byId.get(id)!].reverse() }));
}

function renderIndex(groups: readonly Group[]): string {
  const rows = groups.map((g) => {
    const latest = g.versions[0]!;
    const personal = g.versions.some((v) => fieldRows(v.properties).some((r) => r.pii !== undefined));
    return `<tr class="index-row" data-contract="${esc(g.id)}">
<th scope="row"><a href="#${esc(contractAnchor(g.id))}"><code>${esc(g.id)}</code></a></th>
<td>${esc(latest.name)}</td>
<td>${latest.owner === undefined ? '<span class="none">—</span>' : esc(latest.owner)}</td>
<td>${statusBadge(latest.status)}</td>
<td><a href="#${esc(versionAnchor(g.id, latest.version))}" class="latest-version">${esc(latest.version)}</a>${
      g.versions.length > 1 ? ` <span class="muted">(${plural(g.versions.length, 'version')})</span>` : ''
    }</td>
<td><code>${esc(latest.topic)}</code></td>
<td>${personal ? '<span class="badge pii">PII</span>' : '<span class="none">—</span>'}</td>
</tr>`;
  });
  return `<p class="filter" hidden><label for="filter">Filter event types</label> <input id="filter" type="search" autocomplete="off"></p>
<table class="index-table">
<caption>Every event type with its latest version</caption>
<thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Status</th><th scope="col">Latest version</th><th scope="col">Topic</th><th scope="col">Personal data</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

function renderContract(g: Group, history: readonly CatalogHistoryEntry[]): string {
  const latest = g.versions[0]!;
  const headingId = `${contractAnchor(g.id)}-heading`;
  const versionLinks = g.versions.map((v) => `<a href="#${esc(versionAnchor(g.id, v.version))}">${esc(v.version)}</a>`).join(', ');
  return `<section class="contract" id="${esc(contractAnchor(g.id))}" data-contract="${esc(g.id)}" aria-labelledby="${esc(headingId)}">
<h2 id="${esc(headingId)}">${esc(latest.name)} <code class="contract-id">${esc(g.id)}</code></h2>
<p class="contract-meta">Owner: ${latest.owner === undefined ? '<span class="none">not named</span>' : esc(latest.owner)}. Versions: ${versionLinks}.</p>
${g.versions.map((v, i) => renderVersion(v, i === 0, history)).join('\n')}
${renderHistory(g, history)}
</section>`;
}

function renderVersion(c: Contract, latest: boolean, history: readonly CatalogHistoryEntry[]): string {
  const anchor = versionAnchor(c.id, c.version);
  const rows = fieldRows(c.properties);
  const personal = rows.filter((r) => r.pii !== undefined).length;
  const check = history.find((h) => h.version === c.version);
  const checkText =
    check === undefined
      ? '<span class="verdict not-checked">not checked</span>'
      : `${verdictBadge(check.verdict)} <a href="#${esc(historyAnchor(c.id, c.version))}">details</a>`;
  const facts: [string, string][] = [
    ['Status', statusBadge(c.status)],
    ['Topic', `<code>${esc(c.topic)}</code>`],
    ['Event type', `<code>${esc(c.eventType)}</code>`],
    ['Partition key', `<code>${esc(c.partitionKey)}</code>`],
    ['Compatibility mode', `<code>${esc(c.compatibility)}</code>`],
    ['Compatibility check', checkText],
    ['Data schema', `<code>${esc(c.dataschema)}</code>`],
    ['Warehouse table', `<code>${esc(c.warehouseTable)}</code> <span class="muted">(${esc(c.warehouseEvolution)})</span>`],
    ['Source file', `<code>${esc(c.file)}</code>`],
  ];
  return `<article class="version${latest ? ' latest' : ''}" id="${esc(anchor)}" data-contract="${esc(c.id)}" data-version="${esc(c.version)}"${
    latest ? ' data-latest="true"' : ''
  } aria-labelledby="${esc(anchor)}-heading">
<h3 id="${esc(anchor)}-heading">Version ${esc(c.version)}${latest ? ' <span class="badge latest">latest</span>' : ''}</h3>
${c.description === undefined ? '<p class="description none">No description.</p>' : `<p class="description">${esc(c.description)}</p>`}
<dl class="facts">
${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('\n')}
</dl>
${renderSla(c.slaProperties)}
<h4>Fields</h4>
<table class="fields">
<caption>${plural(rows.length, 'field')} of ${esc(c.id)} ${esc(c.version)}${personal > 0 ? `, ${personal} personal` : ''}</caption>
<thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Format</th><th scope="col">Required</th><th scope="col">Description</th><th scope="col">Classification</th><th scope="col">Allowed values</th></tr></thead>
<tbody>
${rows.map(renderField).join('\n')}
</tbody>
</table>
${renderExamples(c)}
</article>`;
}

function renderSla(sla: readonly SlaProperty[]): string {
  if (sla.length === 0) return '';
  const items = sla.map((s) => {
    const value = `${esc(scalar(s.value))}${s.unit === undefined ? '' : ` ${esc(s.unit)}`}`;
    const extra = [
      s.valueExt === undefined ? undefined : `extended value ${esc(scalar(s.valueExt))}`,
      s.element === undefined ? undefined : `on <code>${esc(s.element)}</code>`,
      s.driver === undefined ? undefined : `driver: ${esc(s.driver)}`,
      s.scheduler === undefined && s.schedule === undefined
        ? undefined
        : `checked by ${esc(s.scheduler ?? 'a scheduler')}${s.schedule === undefined ? '' : ` at <code>${esc(s.schedule)}</code>`}`,
    ].filter((x): x is string => x !== undefined);
    return `<li data-sla="${esc(s.property)}"><b>${esc(s.property)}</b>: ${value}${extra.length > 0 ? ` <span class="muted">(${extra.join('; ')})</span>` : ''}${
      s.description === undefined ? '' : ` — ${esc(s.description)}`
    }</li>`;
  });
  return `<h4>Service levels</h4>\n<ul class="sla">\n${items.join('\n')}\n</ul>`;
}

/** One row of a fields table: a property at any depth, with its personal-data treatment. */
interface FieldRow {
  readonly path: string;
  readonly depth: number;
  readonly property: Omit<OdcsProperty, 'name'>;
  readonly required: boolean;
  /** The treatment when the field is personal data, else undefined. */
  readonly pii: string | undefined;
  /** True when the treatment comes from an enclosing object rather than the field itself. */
  readonly inherited: boolean;
}

/**
 * Flattens properties into rows, parents before children. An array whose items are personal is
 * personal as a whole, and so is everything inside a personal object, as the loader treats them.
 */
function fieldRows(props: readonly OdcsProperty[], prefix = '', depth = 0, parentPii?: string): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const p of props) {
    const path = `${prefix}${p.name}`;
    const own = piiTreatmentOf(p) ?? (p.items === undefined ? undefined : piiTreatmentOf(p.items));
    const pii = own ?? parentPii;
    rows.push({ path, depth, property: p, required: p.required === true, pii, inherited: own === undefined && pii !== undefined });
    if (p.properties !== undefined) rows.push(...fieldRows(p.properties, `${path}.`, depth + 1, pii));
    if (p.items?.properties !== undefined) rows.push(...fieldRows(p.items.properties, `${path}[].`, depth + 1, pii));
  }
  return rows;
}

function renderField(r: FieldRow): string {
  const p = r.property;
  const items = p.items;
  const type = p.logicalType ?? 'string';
  const typeText = type === 'array' ? `array&lt;${esc(items?.logicalType ?? (items === undefined ? 'any' : 'string'))}&gt;` : esc(type);
  const physical = p.physicalType ?? items?.physicalType;
  const format = formatOf(p) ?? (items === undefined ? undefined : formatOf(items));
  const description = p.description ?? items?.description;
  const classification = p.classification ?? items?.classification;
  const constraints = [...constraintsOf(p), ...(items === undefined ? [] : constraintsOf(items).map((c) => `items: ${c}`))];
  const pii = r.pii === undefined ? '' : ` data-pii-treatment="${esc(r.pii)}"`;
  return `<tr class="field depth-${Math.min(r.depth, 6)}" data-field="${esc(r.path)}" data-pii="${r.pii !== undefined}"${pii}>
<th scope="row"><code>${esc(r.path)}</code></th>
<td><code>${typeText}</code>${physical === undefined ? '' : ` <span class="physical" title="warehouse type">${esc(physical)}</span>`}</td>
<td class="format">${format === undefined ? '<span class="none">—</span>' : `<code>${esc(format)}</code>`}</td>
<td>${r.required ? '<span class="required">required</span>' : '<span class="optional">optional</span>'}</td>
<td>${description === undefined ? '' : esc(description)}</td>
<td>${classification === undefined || classification.toLowerCase() === 'pii' ? '' : `<span class="classification">${esc(classification)}</span> `}${piiBadge(r)}</td>
<td>${constraints.length === 0 ? '' : `<ul class="constraints">${constraints.map((c) => `<li>${c}</li>`).join('')}</ul>`}</td>
</tr>`;
}

function piiBadge(r: FieldRow): string {
  if (r.pii === undefined) return '';
  const known = (PiiTreatments as readonly string[]).includes(r.pii);
  const what = known
    ? TREATMENT_TEXT[r.pii as keyof typeof TREATMENT_TEXT]
    : `unknown treatment '${r.pii}': the loader refuses this contract`;
  const title = `${r.inherited ? 'inside a personal field; ' : ''}${what}`;
  return `<span class="badge pii${known ? '' : ' unknown'}" data-pii-treatment="${esc(r.pii)}" title="${esc(title)}">PII · ${esc(r.pii)}${
    r.inherited ? ' (inherited)' : ''
  }</span>`;
}

const TREATMENT_TEXT = {
  hash: 'stored as an HMAC-SHA256 of the value',
  mask: "stored masked as ****, keeping an e-mail address's domain",
  drop: 'never stored in the warehouse',
} as const;

/** The JSON format of a value: the declared one, or the one its logical type implies. */
function formatOf(p: Omit<OdcsProperty, 'name'>): string | undefined {
  const declared = p.logicalTypeOptions?.format;
  if (typeof declared === 'string') return declared;
  if (p.logicalType === 'timestamp') return 'date-time';
  if (p.logicalType === 'date') return 'date';
  if (p.logicalType === 'time') return 'time';
  return undefined;
}

const BOUNDS: Readonly<Record<string, string>> = {
  minLength: 'length ≥',
  maxLength: 'length ≤',
  minimum: '≥',
  maximum: '≤',
  exclusiveMinimum: '>',
  exclusiveMaximum: '<',
  multipleOf: 'multiple of',
  minItems: 'items ≥',
  maxItems: 'items ≤',
  minProperties: 'properties ≥',
  maxProperties: 'properties ≤',
  pattern: 'matches',
};

/** Enum values and bounds, as escaped HTML fragments. */
function constraintsOf(p: Omit<OdcsProperty, 'name'>): string[] {
  const out: string[] = [];
  const values = validValuesOf(p);
  if (values !== undefined) out.push(`<span class="enum">one of ${values.map((v) => `<code>${esc(scalar(v))}</code>`).join(', ')}</span>`);
  for (const [key, value] of Object.entries(p.logicalTypeOptions ?? {})) {
    if (key === 'format' || value === undefined) continue;
    if (key === 'uniqueItems') {
      if (value === true) out.push('unique items');
      continue;
    }
    const label = BOUNDS[key];
    out.push(label === undefined ? `${esc(key)}: <code>${esc(scalar(value))}</code>` : `${esc(label)} <code>${esc(scalar(value))}</code>`);
  }
  return out;
}

function renderExamples(c: Contract): string {
  const example = exampleOf({ logicalType: 'object', properties: c.properties });
  const body =
    example === undefined
      ? '<p class="none">No examples in this contract.</p>'
      : `<p class="muted">Assembled from the first example of each field; fields without one are left out.</p>
<pre class="example"><code>${esc(JSON.stringify(example, null, 2))}</code></pre>`;
  return `<h4>Examples</h4>\n${body}`;
}

/** An example value built from the properties' first examples; undefined when none has any. */
function exampleOf(p: Omit<OdcsProperty, 'name'>): unknown {
  if (p.examples !== undefined && p.examples.length > 0) return p.examples[0];
  if (p.properties !== undefined) {
    const entries = p.properties.map((child) => [child.name, exampleOf(child)] as const).filter(([, v]) => v !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries);
  }
  if (p.items !== undefined) {
    const item = exampleOf(p.items);
    return item === undefined ? undefined : [item];
  }
  return undefined;
}

function renderHistory(g: Group, history: readonly CatalogHistoryEntry[]): string {
  const known = new Set(g.versions.map((v) => v.version));
  // Entries for versions no longer in the catalog are still history worth showing.
  const versions = [...known, ...history.map((h) => h.version).filter((v) => !known.has(v))].sort((a, b) => compareVersions(b, a));
  const rows = versions.map((version) => {
    const h = history.find((e) => e.version === version);
    const anchor = esc(historyAnchor(g.id, version));
    if (h === undefined) {
      return `<tr class="history-row" id="${anchor}" data-version="${esc(version)}" data-verdict="not-checked">
<th scope="row">${esc(version)}</th><td colspan="4"><span class="verdict not-checked">not checked</span></td>
</tr>`;
    }
    const compared = h.comparedWith.length === 0 ? '<span class="none">nothing (first version)</span>' : h.comparedWith.map(esc).join(', ');
    const findings =
      h.findings.length === 0 ? '<span class="none">—</span>' : `<ul>${h.findings.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`;
    return `<tr class="history-row" id="${anchor}" data-version="${esc(version)}" data-verdict="${esc(h.verdict)}">
<th scope="row">${esc(version)}</th><td><code>${esc(h.mode)}</code></td><td>${compared}</td><td>${verdictBadge(h.verdict)}</td><td>${findings}</td>
</tr>`;
  });
  return `<section class="history" aria-labelledby="${esc(contractAnchor(g.id))}-history">
<h3 id="${esc(contractAnchor(g.id))}-history">Compatibility history</h3>
<table class="history-table">
<caption>Compatibility checks of ${esc(g.id)}, latest version first</caption>
<thead><tr><th scope="col">Version</th><th scope="col">Mode</th><th scope="col">Compared with</th><th scope="col">Verdict</th><th scope="col">Findings</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</section>`;
}

function verdictBadge(verdict: CatalogHistoryEntry['verdict']): string {
  return verdict === 'compatible'
    ? '<span class="verdict compatible">compatible</span>'
    : `<span class="verdict breaks">${esc(String(verdict))}</span>`;
}

function statusBadge(status: string): string {
  return `<span class="status status-${esc(status.toLowerCase().replace(/[^a-z0-9-]/g, '-'))}">${esc(status)}</span>`;
}

const contractAnchor = (id: string): string => `contract-${id}`;
const versionAnchor = (id: string, version: string): string => `contract-${id}-v${version}`;
const historyAnchor = (id: string, version: string): string => `contract-${id}-history-v${version}`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A value as short text: strings as they are, anything else as JSON. */
function scalar(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
}

/** Escapes text for HTML element content and quoted attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

const esc = escapeHtml;
const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function cspHash(text: string): string {
  return `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;
}

// The page's only script: it shows a filter box over the index (the page is complete without it).
const SCRIPT = `(function () {
  var box = document.getElementById('filter');
  if (!box) return;
  box.parentElement.hidden = false;
  box.addEventListener('input', function () {
    var q = box.value.trim().toLowerCase();
    document.querySelectorAll('tr.index-row').forEach(function (row) {
      row.hidden = q !== '' && row.textContent.toLowerCase().indexOf(q) < 0;
    });
  });
})();`;

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #fff; --panel: #f6f8fa; --line: #d0d7de;
  --accent: #0b5cad; --pii: #8a1c1c; --pii-bg: #ffe3e0; --ok: #116329; --ok-bg: #dafbe1; --bad-bg: #ffebe9; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --panel: #161b22; --line: #30363d;
  --accent: #58a6ff; --pii: #ffb3ad; --pii-bg: #5a1e1e; --ok: #7ee2a8; --ok-bg: #12361f; --bad-bg: #4a1717; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 78rem; padding: 1rem 1.5rem 3rem; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
a { color: var(--accent); }
h1 { margin: 0.5rem 0 0.25rem; }
h2 { margin-top: 2.5rem; border-bottom: 2px solid var(--line); padding-bottom: 0.25rem; }
h3 { margin: 1.5rem 0 0.5rem; }
h4 { margin: 1.25rem 0 0.5rem; }
.summary, .muted, .none, caption { color: var(--muted); }
caption { text-align: left; padding: 0.25rem 0; font-size: 0.9em; }
table { border-collapse: collapse; width: 100%; margin: 0.25rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: var(--panel); }
tbody th { font-weight: normal; }
.contract-id { font-size: 0.7em; color: var(--muted); font-weight: normal; }
section.contract:target > h2, article.version:target > h3 { background: var(--panel); }
article.version { border: 1px solid var(--line); border-radius: 6px; padding: 0 1rem 0.5rem; margin: 1rem 0; }
.description { white-space: pre-line; }
dl.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(16rem, 1fr)); gap: 0.5rem 1rem; margin: 0.75rem 0; }
dt { font-weight: 600; font-size: 0.85em; color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
.badge, .status, .verdict { display: inline-block; padding: 0 0.45rem; border-radius: 999px; font-size: 0.8em; font-weight: 600; border: 1px solid var(--line); white-space: nowrap; }
.badge.pii { color: var(--pii); background: var(--pii-bg); border-color: var(--pii); }
.badge.pii.unknown { outline: 2px dashed var(--pii); }
.badge.latest, .verdict.compatible, .status-active { color: var(--ok); background: var(--ok-bg); border-color: var(--ok); }
.verdict.breaks { color: var(--pii); background: var(--bad-bg); border-color: var(--pii); }
.verdict.not-checked, .status-deprecated, .status-retired, .status-draft, .status-proposed { color: var(--muted); background: var(--panel); }
tr.field[data-pii="true"] > th { box-shadow: inset 4px 0 0 var(--pii); }
td.format code { white-space: nowrap; }
.physical { color: var(--muted); font-size: 0.85em; }
.optional { color: var(--muted); }
ul.constraints, .history-table ul, ul.sla { margin: 0; padding-left: 1.1rem; }
pre.example { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 0.75rem; overflow-x: auto; }
.filter input { font: inherit; padding: 0.2rem 0.4rem; }
${[1, 2, 3, 4, 5, 6].map((d) => `tr.depth-${d} > th { padding-left: ${0.5 + d * 1.25}rem; }`).join('\n')}
@media print { .filter { display: none; } article.version { break-inside: avoid; } }
`;
