import { arrays } from './arrays.js';
import { combinators } from './combinators.js';
import { type Obj, type Ctx, MAX_DEPTH, OTHER_KEYWORDS, GROUPS, trial, swapped, add, allCompatible } from './context.js';
import { type JsonSchema, type DifferenceKind, type SchemaDifference, type InternalDifference } from './kinds.js';
import { objects } from './objects.js';
import { plainUnevaluated, unevaluated, withStaticProperties } from './unevaluated.js';
import { types, values, strings, numbers } from './scalars.js';
import { typesOf, canBe, isObject, resolve, idOf, deepEqual, sameSchema } from './schema-helpers.js';

/**
 * Lists the differences between a `writer` schema (data was valid against it) and a `reader`
 * schema (that data must be valid against it), following Confluent's JSON Schema rules. The
 * reader accepts all the writer's data when every difference is `compatible` (and, conservatively,
 * may still do so when one is not; see the module notes). Identical schemas give no differences.
 * Local `$ref`s (`#/definitions/...`, `#/$defs/...`) are followed, recursive ones once. Pure.
 */
export function diffSchemas(writer: JsonSchema, reader: JsonSchema): SchemaDifference[] {
  return diffWithInverse(writer, reader).map(({ inverse: _inverse, ...d }) => d);
}

/** {@link diffSchemas}, with each difference's wording of the opposite edit. */
export function diffWithInverse(writer: JsonSchema, reader: JsonSchema): InternalDifference[] {
  const out: InternalDifference[] = [];
  walk(writer, reader, { path: '', schemaPath: '#', writerRoot: writer, readerRoot: reader, stack: new Set(), depth: 0, out });
  const seen = new Set<string>();
  return out.filter((d) => {
    const key = `${d.kind}\u0000${d.path}\u0000${d.schemaPath}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Compares writer and reader at the context's place, recording every difference into `ctx.out`. */
export function walk(writer0: unknown, reader0: unknown, ctx: Ctx): void {
  const writer = resolve(writer0, ctx.writerRoot);
  const reader = resolve(reader0, ctx.readerRoot);
  // A writer that accepts nothing produced no data; a reader that accepts anything reads it all.
  if (writer === false || reader === true) return;
  if (sameSchema(writer, reader)) return;
  if (reader === false) {
    add(ctx, 'TYPE_NARROWED', 'accepts no value at all', 'accepts values again');
    return;
  }
  const w: Obj = writer === true || !isObject(writer) ? {} : writer;
  const r: Obj = isObject(reader) ? reader : {};
  const key = `${idOf(w)}:${idOf(r)}`;
  // Like Confluent, a pair already being compared further up is taken as compatible here: its
  // differences are reported where the comparison started.
  if (ctx.stack.has(key) || ctx.depth > MAX_DEPTH) return;
  ctx.stack.add(key);
  try {
    annotations(w, r, ctx);
    const plainProperties = plainUnevaluated(w, r, 'unevaluatedProperties');
    const plainItems = plainUnevaluated(w, r, 'unevaluatedItems');
    if (!plainProperties) unevaluated(w, r, 'unevaluatedProperties', ctx);
    if (!plainItems) unevaluated(w, r, 'unevaluatedItems', ctx);
    const [w1, r1] = plainProperties ? [withStaticProperties(w), withStaticProperties(r)] : [w, r];
    const rest = combinators(w1, r1, ctx);
    if (rest !== undefined) keywords(rest.w, rest.r, ctx, plainItems);
  } finally {
    ctx.stack.delete(key);
  }
}

function annotations(w: Obj, r: Obj, ctx: Ctx): void {
  const pairs: [string, DifferenceKind][] = [
    ['$id', 'ID_CHANGED'],
    ['id', 'ID_CHANGED'],
    ['title', 'TITLE_CHANGED'],
    ['description', 'DESCRIPTION_CHANGED'],
    ['default', 'DEFAULT_CHANGED'],
  ];
  for (const [keyword, kind] of pairs) {
    if (!deepEqual(w[keyword], r[keyword])) add(ctx, kind, `${keyword} changed`, `${keyword} changed`, keyword);
  }
}

/** Compares every keyword but the combinators, family by family as the types allow. */
export function keywords(w: Obj, r: Obj, ctx: Ctx, plainItems: boolean): void {
  const wt = typesOf(w);
  const rt = typesOf(r);
  types(wt, rt, ctx);
  values(w, r, wt, rt, ctx);
  const both = (group: keyof typeof GROUPS): boolean => canBe(wt, group) && canBe(rt, group);
  if (both('string')) strings(w, r, ctx);
  if (both('number')) numbers(w, r, ctx);
  if (both('object')) objects(w, r, ctx);
  if (both('array')) arrays(w, r, ctx, plainItems);
  not(w, r, ctx);
  for (const keyword of OTHER_KEYWORDS) other(w, r, keyword, ctx);
}

// ----- not, and what the differ does not model

/** Compares `not`: what it forbids grew (a break) or shrank. */
export function not(w: Obj, r: Obj, ctx: Ctx): void {
  const k = 'not';
  if (w[k] === undefined && r[k] === undefined) return;
  if (w[k] === undefined) add(ctx, 'NOT_TYPE_EXTENDED', 'not added: more values forbidden', 'not removed', k);
  else if (r[k] === undefined) add(ctx, 'NOT_TYPE_NARROWED', 'not removed', 'not added: more values forbidden', k);
  else {
    // What `not` forbids shrinks when the old forbidden set reads everything the new one holds.
    const sub = trial(swapped(ctx), null, k);
    walk(r[k], w[k], sub);
    if (sub.out.length === 0) return;
    if (allCompatible(sub.out)) add(ctx, 'NOT_TYPE_NARROWED', 'not forbids fewer values', 'not forbids more values', k);
    else add(ctx, 'NOT_TYPE_EXTENDED', 'not forbids more values', 'not forbids fewer values', k);
  }
}

function other(w: Obj, r: Obj, keyword: string, ctx: Ctx): void {
  const [a, b] = [w[keyword], r[keyword]];
  if (a === undefined && b === undefined) return;
  if (a === undefined) add(ctx, 'KEYWORD_ADDED', `keyword '${keyword}' added`, `keyword '${keyword}' removed`, keyword);
  else if (b === undefined) add(ctx, 'KEYWORD_REMOVED', `keyword '${keyword}' removed`, `keyword '${keyword}' added`, keyword);
  else if (!(keyword === '$ref' ? a === b : sameSchema(a, b)))
    add(ctx, 'KEYWORD_CHANGED', `keyword '${keyword}' changed, which herald cannot prove compatible`, undefined, keyword);
}
