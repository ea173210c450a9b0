import { html, raw, type SafeHtml } from './html.js';

/** What every console page needs besides its body. */
export interface PageFrame {
  readonly title: string;
  /** Which navigation entry is current. */
  readonly current: 'overview' | 'dead-letters' | 'catalog' | 'none';
  /** Whether the catalog link is shown (the console was started with contracts). */
  readonly catalog: boolean;
}

/**
 * A complete console page around `body`: no script and no external asset, only the inline
 * style the CSP allows, so the page renders the same from any network.
 */
export function page(frame: PageFrame, body: SafeHtml): string {
  const link = (href: string, name: PageFrame['current'], label: string): SafeHtml =>
    html`<a href="${href}" ${frame.current === name ? raw(' aria-current="page"') : ''}>${label}</a>`;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="data:," />
        <title>${frame.title} · Herald console</title>
        <style>
          ${raw(STYLE)}
        </style>
      </head>
      <body>
        <header>
          <strong>Herald console</strong>
          <nav>
            ${link('/', 'overview', 'Overview')} ${link('/dead-letters', 'dead-letters', 'Dead letters')}
            ${frame.catalog ? link('/catalog', 'catalog', 'Contract catalog') : ''}
          </nav>
        </header>
        <main>
          <h1>${frame.title}</h1>
          ${body}
        </main>
      </body>
    </html> `.toString();
}

/** A hidden form field carrying the token, so the console's own forms can post. */
export function tokenField(token: string): SafeHtml {
  return html`<input type="hidden" name="token" value="${token}" />`;
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #fff; --panel: #f6f8fa; --line: #d0d7de;
  --accent: #0b5cad; --bad: #8a1c1c; --bad-bg: #ffebe9; --ok: #116329; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9da7b3; --bg: #0d1117; --panel: #161b22; --line: #30363d;
  --accent: #58a6ff; --bad: #ffb3ad; --bad-bg: #4a1717; --ok: #7ee2a8; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 78rem; padding: 0 1.5rem 3rem; font: 15px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 2rem; align-items: baseline; padding: 0.75rem 0; border-bottom: 2px solid var(--line); }
nav a { margin-right: 1rem; }
nav a[aria-current] { font-weight: 700; text-decoration: none; }
a { color: var(--accent); }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.9em; }
h2 { margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: 0.25rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.warning { color: var(--bad); background: var(--bad-bg); padding: 0.4rem 0.6rem; border-radius: 4px; }
.ok { color: var(--ok); }
pre.payload { background: var(--panel); border: 1px solid var(--line); padding: 0.5rem; margin: 0.25rem 0; max-height: 16rem; overflow: auto; }
figure.rate { margin: 0.5rem 0; color: var(--accent); }
figure.rate figcaption { color: var(--fg); }
form.inline { display: inline; }
button { font: inherit; padding: 0.15rem 0.6rem; }
button.danger { color: var(--bad); }
.error { overflow-wrap: anywhere; max-width: 30rem; }
`;
