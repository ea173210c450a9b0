import { type Obj, type Ctx, add } from './context.js';
import { covers, typeText, plural, deepEqual } from './schema-helpers.js';

/** Compares the `type` keywords: extended, narrowed or changed. */
export function types(wt: Set<string> | undefined, rt: Set<string> | undefined, ctx: Ctx): void {
  if (wt === undefined && rt === undefined) return;
  const from = typeText(wt);
  const to = typeText(rt);
  if (rt === undefined) {
    add(ctx, 'TYPE_EXTENDED', `type constraint ${from} removed`, `type constraint ${from} added`, 'type');
    return;
  }
  if (wt === undefined) {
    add(ctx, 'TYPE_NARROWED', `type narrowed from any type to ${to}`, `type widened from ${to} to any type`, 'type');
    return;
  }
  const lost = [...wt].filter((t) => !covers(rt, t));
  const gained = [...rt].filter((t) => !covers(wt, t));
  if (lost.length === 0 && gained.length === 0) return;
  const onlyNull = (list: string[]): boolean => list.length === 1 && list[0] === 'null';
  if (lost.length === 0) {
    if (onlyNull(gained)) add(ctx, 'TYPE_EXTENDED', 'became nullable', 'is no longer nullable', 'type');
    else add(ctx, 'TYPE_EXTENDED', `type widened from ${from} to ${to}`, `type narrowed from ${to} to ${from}`, 'type');
  } else if (gained.length === 0) {
    if (onlyNull(lost)) add(ctx, 'TYPE_NARROWED', 'is no longer nullable', 'became nullable', 'type');
    else add(ctx, 'TYPE_NARROWED', `type narrowed from ${from} to ${to}`, `type widened from ${to} to ${from}`, 'type');
  } else {
    add(ctx, 'TYPE_CHANGED', `type changed from ${from} to ${to}`, `type changed from ${to} to ${from}`, 'type');
  }
}

/** The allowed values of a schema: its `enum`, its `const`, or both intersected. */
function valuesOf(s: Obj): unknown[] | undefined {
  const list = Array.isArray(s.enum) ? (s.enum as unknown[]) : undefined;
  if (!('const' in s)) return list;
  return list === undefined ? [s.const] : list.filter((v) => deepEqual(v, s.const));
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Compares `enum`/`const`: the allowed values extended, narrowed or changed. */
export function values(w: Obj, r: Obj, wt: Set<string> | undefined, rt: Set<string> | undefined, ctx: Ctx): void {
  const wv = valuesOf(w);
  const rv = valuesOf(r);
  const keyword = 'enum' in r || 'enum' in w ? 'enum' : 'const';
  if (wv === undefined && rv === undefined) return;
  if (wv === undefined) {
    add(ctx, 'ENUM_ADDED', `values restricted to a list of ${plural(rv!.length, 'value')}`, 'list of allowed values removed', keyword);
    return;
  }
  if (rv === undefined) {
    add(ctx, 'ENUM_REMOVED', 'list of allowed values removed', `values restricted to a list of ${plural(wv.length, 'value')}`, keyword);
    return;
  }
  // A value the other side's `type` refuses is already reported as a type change (null, when a
  // property stops being optional); counting it again would say the same thing twice.
  const lost = wv.filter((v) => covers(wt, jsonType(v)) && covers(rt, jsonType(v)) && !rv.some((x) => deepEqual(x, v)));
  const gained = rv.filter((v) => covers(wt, jsonType(v)) && covers(rt, jsonType(v)) && !wv.some((x) => deepEqual(x, v)));
  if (lost.length === 0 && gained.length === 0) return;
  const added = `${plural(gained.length, 'value')} added`;
  const removed = `${plural(lost.length, 'value')} removed`;
  if (lost.length === 0)
    add(
      ctx,
      'ENUM_ARRAY_EXTENDED',
      `allowed values extended (${added})`,
      `allowed values narrowed (${plural(gained.length, 'value')} removed)`,
      keyword,
    );
  else if (gained.length === 0)
    add(
      ctx,
      'ENUM_ARRAY_NARROWED',
      `allowed values narrowed (${removed})`,
      `allowed values extended (${plural(lost.length, 'value')} added)`,
      keyword,
    );
  else
    add(
      ctx,
      'ENUM_ARRAY_CHANGED',
      `allowed values changed (${added}, ${removed})`,
      `allowed values changed (${plural(lost.length, 'value')} added, ${plural(gained.length, 'value')} removed)`,
      keyword,
    );
}

type BoundPrefix =
  | 'MAX_LENGTH'
  | 'MIN_LENGTH'
  | 'MAXIMUM'
  | 'MINIMUM'
  | 'EXCLUSIVE_MAXIMUM'
  | 'EXCLUSIVE_MINIMUM'
  | 'MAX_ITEMS'
  | 'MIN_CONTAINS'
  | 'MAX_CONTAINS'
  | 'MIN_ITEMS'
  | 'MAX_PROPERTIES'
  | 'MIN_PROPERTIES';

/** A numeric bound keyword: added, removed, raised or lowered. The kinds' verdicts say which is safe. */
export function bound(wv: unknown, rv: unknown, keyword: string, prefix: BoundPrefix, ctx: Ctx): void {
  const a = typeof wv === 'number' ? wv : undefined;
  const b = typeof rv === 'number' ? rv : undefined;
  if (a === b) return;
  if (a === undefined) add(ctx, `${prefix}_ADDED`, `${keyword} ${b} added`, `${keyword} ${b} removed`, keyword);
  else if (b === undefined) add(ctx, `${prefix}_REMOVED`, `${keyword} ${a} removed`, `${keyword} ${a} added`, keyword);
  else if (a < b) add(ctx, `${prefix}_INCREASED`, `${keyword} raised from ${a} to ${b}`, `${keyword} lowered from ${b} to ${a}`, keyword);
  else add(ctx, `${prefix}_DECREASED`, `${keyword} lowered from ${a} to ${b}`, `${keyword} raised from ${b} to ${a}`, keyword);
}

/** Compares `maxLength`, `minLength`, `pattern` and `format`. */
export function strings(w: Obj, r: Obj, ctx: Ctx): void {
  bound(w.maxLength, r.maxLength, 'maxLength', 'MAX_LENGTH', ctx);
  bound(w.minLength, r.minLength, 'minLength', 'MIN_LENGTH', ctx);
  const [wp, rp] = [w.pattern, r.pattern];
  if (wp === undefined && rp !== undefined) add(ctx, 'PATTERN_ADDED', 'pattern added', 'pattern removed', 'pattern');
  else if (wp !== undefined && rp === undefined) add(ctx, 'PATTERN_REMOVED', 'pattern removed', 'pattern added', 'pattern');
  else if (wp !== rp) add(ctx, 'PATTERN_CHANGED', 'pattern changed', 'pattern changed', 'pattern');
  const [wf, rf] = [w.format, r.format];
  if (wf === undefined && rf !== undefined)
    add(ctx, 'FORMAT_ADDED', `format '${String(rf)}' added`, `format '${String(rf)}' removed`, 'format');
  else if (wf !== undefined && rf === undefined)
    add(ctx, 'FORMAT_REMOVED', `format '${String(wf)}' removed`, `format '${String(wf)}' added`, 'format');
  else if (wf !== rf)
    add(
      ctx,
      'FORMAT_CHANGED',
      `format changed from '${String(wf)}' to '${String(rf)}'`,
      `format changed from '${String(rf)}' to '${String(wf)}'`,
      'format',
    );
}

/** Draft-04's boolean `exclusiveMaximum`/`exclusiveMinimum` turned into draft-07's numbers. */
function numericBounds(s: Obj): { maximum?: unknown; minimum?: unknown; exclusiveMaximum?: unknown; exclusiveMinimum?: unknown } {
  const out = { maximum: s.maximum, minimum: s.minimum, exclusiveMaximum: s.exclusiveMaximum, exclusiveMinimum: s.exclusiveMinimum };
  if (typeof s.exclusiveMaximum === 'boolean') {
    out.exclusiveMaximum = s.exclusiveMaximum ? s.maximum : undefined;
    if (s.exclusiveMaximum) out.maximum = undefined;
  }
  if (typeof s.exclusiveMinimum === 'boolean') {
    out.exclusiveMinimum = s.exclusiveMinimum ? s.minimum : undefined;
    if (s.exclusiveMinimum) out.minimum = undefined;
  }
  return out;
}

/** Compares the numeric bounds (draft-04 booleans included) and `multipleOf`. */
export function numbers(w: Obj, r: Obj, ctx: Ctx): void {
  const a = numericBounds(w);
  const b = numericBounds(r);
  bound(a.maximum, b.maximum, 'maximum', 'MAXIMUM', ctx);
  bound(a.minimum, b.minimum, 'minimum', 'MINIMUM', ctx);
  bound(a.exclusiveMaximum, b.exclusiveMaximum, 'exclusiveMaximum', 'EXCLUSIVE_MAXIMUM', ctx);
  bound(a.exclusiveMinimum, b.exclusiveMinimum, 'exclusiveMinimum', 'EXCLUSIVE_MINIMUM', ctx);
  const wm = typeof w.multipleOf === 'number' ? w.multipleOf : undefined;
  const rm = typeof r.multipleOf === 'number' ? r.multipleOf : undefined;
  if (wm === rm) return;
  const k = 'multipleOf';
  if (wm === undefined) add(ctx, 'MULTIPLE_OF_ADDED', `${k} ${rm} added`, `${k} ${rm} removed`, k);
  else if (rm === undefined) add(ctx, 'MULTIPLE_OF_REMOVED', `${k} ${wm} removed`, `${k} ${wm} added`, k);
  else {
    const kind = isMultiple(rm, wm) ? 'MULTIPLE_OF_EXPANDED' : isMultiple(wm, rm) ? 'MULTIPLE_OF_REDUCED' : 'MULTIPLE_OF_CHANGED';
    add(ctx, kind, `${k} changed from ${wm} to ${rm}`, `${k} changed from ${rm} to ${wm}`, k);
  }
}

/** Whether `a` is a whole multiple of `b`, exactly for decimals such as 0.01 (Confluent truncates to integers). */
function isMultiple(a: number, b: number): boolean {
  if (b === 0) return false;
  const decimals = (x: number): number | undefined => {
    const s = String(x);
    if (s.includes('e')) return undefined;
    return (s.split('.')[1] ?? '').length;
  };
  const da = decimals(a);
  const db = decimals(b);
  if (da === undefined || db === undefined) {
    const q = a / b;
    return Math.abs(q - Math.round(q)) < 1e-9;
  }
  const scale = 10 ** Math.max(da, db);
  return BigInt(Math.round(a * scale)) % BigInt(Math.round(b * scale)) === 0n;
}
