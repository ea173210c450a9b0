/**
 * 2020-12's `unevaluatedProperties` and `unevaluatedItems` govern what no other keyword of the
 * schema evaluated — including keywords inside `allOf`, `anyOf`, `oneOf`, `if`/`then`/`else`,
 * `dependentSchemas` and `$ref` ("in-place applicators"), which depends on the value itself.
 *
 * Without in-place applicators on either side the set is static: `unevaluatedProperties` then
 * means what `additionalProperties` means, and `unevaluatedItems` what the items after the tuple
 * keyword mean, and the differ compares them that way (exact content-model verdicts). With
 * applicators it compares the keyword alone (allowing more is safe, less is not), and reports any
 * change of what the keyword governs as a break it cannot prove safe — conservative, never lax.
 */
import { type Obj, type Ctx, child, add } from './context.js';
import { deepEqual, isObject } from './schema-helpers.js';
import { walk } from './walk.js';

/** The keywords that evaluate properties or items from a subschema, in place. */
const IN_PLACE_APPLICATORS = ['allOf', 'anyOf', 'oneOf', 'if', 'then', 'else', 'dependentSchemas', '$ref'] as const;

/** What each keyword governs: the keywords whose evaluation it depends on. */
const GOVERNED = {
  unevaluatedProperties: ['properties', 'patternProperties', 'additionalProperties', ...IN_PLACE_APPLICATORS],
  unevaluatedItems: ['prefixItems', 'items', 'additionalItems', 'contains', ...IN_PLACE_APPLICATORS],
} as const;

type Unevaluated = keyof typeof GOVERNED;

/** Whether `unevaluated*` of both schemas can be compared as their static counterpart. */
export function plainUnevaluated(w: Obj, r: Obj, keyword: Unevaluated): boolean {
  const applies = (s: Obj): boolean =>
    IN_PLACE_APPLICATORS.some((k) => s[k] !== undefined) || (keyword === 'unevaluatedItems' && s.contains !== undefined);
  return !applies(w) && !applies(r);
}

/**
 * `s` with `unevaluatedProperties` as `additionalProperties` (which wins when both are given: it
 * evaluates every other property, leaving nothing unevaluated).
 */
export function withStaticProperties(s: Obj): Obj {
  if (s.unevaluatedProperties === undefined) return s;
  const { unevaluatedProperties, ...rest } = s;
  return rest.additionalProperties === undefined ? { ...rest, additionalProperties: unevaluatedProperties } : rest;
}

/** Compares `keyword` of two schemas where {@link plainUnevaluated} is false. */
export function unevaluated(w: Obj, r: Obj, keyword: Unevaluated, ctx: Ctx): void {
  const [a, b] = [w[keyword], r[keyword]];
  if (a === undefined && b === undefined) return;
  const what = keyword === 'unevaluatedProperties' ? 'properties' : 'items';
  const kind = keyword === 'unevaluatedProperties' ? 'UNEVALUATED_PROPERTIES' : 'UNEVALUATED_ITEMS';
  const permits = (x: unknown): boolean => x !== false;
  const restricts = (x: unknown): boolean => x !== undefined && x !== true;
  if (!deepEqual(a, b)) {
    if (!restricts(b) || (!permits(a) && permits(b)))
      add(ctx, `${kind}_EXTENDED`, `${keyword} accepts more unevaluated ${what}`, `${keyword} accepts fewer unevaluated ${what}`, keyword);
    else if (!restricts(a) || !permits(b))
      add(ctx, `${kind}_NARROWED`, `${keyword} accepts fewer unevaluated ${what}`, `${keyword} accepts more unevaluated ${what}`, keyword);
    else if (isObject(a) && isObject(b)) walk(a, b, child(ctx, '*', keyword));
  }
  if (restricts(b) && GOVERNED[keyword].some((k) => !deepEqual(w[k], r[k])))
    add(
      ctx,
      `${kind}_SCOPE_CHANGED`,
      `the ${what} ${keyword} governs may have changed (keywords it depends on changed), which herald cannot prove compatible`,
      undefined,
      keyword,
    );
}
