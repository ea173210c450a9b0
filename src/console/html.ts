/**
 * Markup that is already safe: produced only by {@link html} (or {@link raw} for constant text
 * written in this codebase), never from outside data.
 */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

/** A value {@link html} accepts: escaped text, already safe markup, or a list of either. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * The console's one escaping helper, as a template tag: every interpolated value is
 * HTML-escaped (for element content and quoted attribute values alike) unless it is
 * {@link SafeHtml}; arrays are joined; null, undefined and false render as nothing. Because every
 * page is built with it, a string from the database or a contract can only ever appear as text.
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Marks constant markup written in this codebase as safe. Never pass data through it. */
export function raw(constant: string): SafeHtml {
  return new SafeHtml(constant);
}

function render(v: HtmlValue): string {
  if (v instanceof SafeHtml) return v.toString();
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return String(v as string | number | boolean).replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}
