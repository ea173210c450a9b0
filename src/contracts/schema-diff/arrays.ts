import { type Obj, type Ctx, child, trial, add, allCompatible } from './context.js';
import { containsKeywords } from './contains.js';
import { bound } from './scalars.js';
import { isObject, isEmptySchema } from './schema-helpers.js';
import { walk } from './walk.js';

/**
 * What an array schema says of its items, in either draft: the schema of every item (`items` as
 * one schema), the tuple (draft-07 `items` as a list, or 2020-12 `prefixItems`) and the schema of
 * the items after it (draft-07 `additionalItems`, 2020-12 `items` beside `prefixItems`), each with
 * the keyword it came from so messages and schema paths name what the author wrote.
 */
interface ArrayModel {
  readonly all: unknown;
  readonly allKeyword: string;
  readonly tuple: readonly unknown[];
  readonly tupleKeyword: string;
  readonly rest: unknown;
  readonly restKeyword: string;
}

/**
 * The {@link ArrayModel} of `s`. `unevaluatedItems` counts only when `plainUnevaluated` (no
 * in-place applicator or `contains` on either side, see `unevaluated.ts`): it then governs
 * exactly the items nothing else does.
 */
function arrayModel(s: Obj, plainUnevaluated: boolean): ArrayModel {
  const unevaluated = plainUnevaluated ? s.unevaluatedItems : undefined;
  if (Array.isArray(s.prefixItems)) {
    const rest = s.items ?? unevaluated;
    return {
      all: undefined,
      allKeyword: 'items',
      tuple: s.prefixItems,
      tupleKeyword: 'prefixItems',
      rest,
      restKeyword: s.items === undefined ? 'unevaluatedItems' : 'items',
    };
  }
  if (Array.isArray(s.items)) {
    const rest = s.additionalItems ?? unevaluated;
    return {
      all: undefined,
      allKeyword: 'items',
      tuple: s.items,
      tupleKeyword: 'items',
      rest,
      restKeyword: s.additionalItems === undefined ? 'unevaluatedItems' : 'additionalItems',
    };
  }
  const all = s.items ?? unevaluated;
  return {
    all,
    allKeyword: s.items === undefined ? 'unevaluatedItems' : 'items',
    tuple: [],
    tupleKeyword: 'items',
    rest: undefined,
    restKeyword: 'additionalItems',
  };
}

/**
 * Compares the array keywords: `items` (one schema or a tuple), `prefixItems`, `additionalItems`,
 * `unevaluatedItems` where it means the same, `contains` and its bounds, `maxItems`/`minItems`,
 * `uniqueItems`. `plainUnevaluated`: see {@link arrayModel}.
 */
export function arrays(w: Obj, r: Obj, ctx: Ctx, plainUnevaluated: boolean): void {
  const wm = arrayModel(w, plainUnevaluated);
  const rm = arrayModel(r, plainUnevaluated);
  const [wAll, rAll] = [wm.all, rm.all];
  const items = child(ctx, '*', rAll === undefined ? wm.allKeyword : rm.allKeyword);
  if (wAll === undefined && rAll !== undefined) {
    if (!isEmptySchema(rAll)) add(items, 'SCHEMA_ADDED', 'item schema added', 'item schema removed');
  } else if (wAll !== undefined && rAll === undefined) {
    if (!isEmptySchema(wAll)) add(items, 'SCHEMA_REMOVED', 'item schema removed', 'item schema added');
  } else if (wAll !== undefined && rAll !== undefined) walk(wAll, rAll, items);

  tupleItems(wm, rm, ctx);

  const k = rm.rest === undefined ? wm.restKeyword : rm.restKeyword;
  const wPermits = wm.rest !== false;
  const rPermits = rm.rest !== false;
  const ws = isObject(wm.rest) ? wm.rest : undefined;
  const rs = isObject(rm.rest) ? rm.rest : undefined;
  if (wPermits !== rPermits) {
    if (rPermits)
      add(ctx, 'ADDITIONAL_ITEMS_ADDED', `items after the tuple now allowed (${k})`, `items after the tuple no longer allowed (${k})`, k);
    else
      add(ctx, 'ADDITIONAL_ITEMS_REMOVED', `items after the tuple no longer allowed (${k})`, `items after the tuple now allowed (${k})`, k);
  } else if (wPermits) {
    if (ws === undefined && rs !== undefined)
      add(ctx, 'ADDITIONAL_ITEMS_NARROWED', `${k} restricted to a schema`, `${k} no longer restricted`, k);
    else if (ws !== undefined && rs === undefined)
      add(ctx, 'ADDITIONAL_ITEMS_EXTENDED', `${k} no longer restricted`, `${k} restricted to a schema`, k);
    else if (ws !== undefined && rs !== undefined) walk(ws, rs, child(ctx, '*', k));
  }

  containsKeywords(w, r, ctx);
  bound(w.maxItems, r.maxItems, 'maxItems', 'MAX_ITEMS', ctx);
  bound(w.minItems, r.minItems, 'minItems', 'MIN_ITEMS', ctx);
  const [wu, ru] = [w.uniqueItems === true, r.uniqueItems === true];
  if (wu && !ru) add(ctx, 'UNIQUE_ITEMS_REMOVED', 'uniqueItems removed', 'uniqueItems added', 'uniqueItems');
  else if (!wu && ru) add(ctx, 'UNIQUE_ITEMS_ADDED', 'uniqueItems added', 'uniqueItems removed', 'uniqueItems');
}

/** Confluent's `ArraySchemaDiff` for tuples: position by position, then the content models. */
function tupleItems(w: ArrayModel, r: ArrayModel, ctx: Ctx): void {
  const [wl, rl] = [w.tuple, r.tuple];
  const open = (s: ArrayModel): boolean => s.rest === undefined || s.rest === true;
  const covering = (s: ArrayModel): unknown => (isObject(s.rest) ? s.rest : undefined);
  for (let i = 0; i < Math.max(wl.length, rl.length); i++) {
    const c = child(ctx, String(i), `${(i < rl.length ? r : w).tupleKeyword}/${i}`);
    const what = `tuple item ${i}`;
    if (i < wl.length && i < rl.length) walk(wl[i], rl[i], c);
    else if (i < wl.length) {
      if (open(r)) add(c, 'ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL', `${what} removed from an open array`, `${what} added to an open array`);
      else if (covering(r) !== undefined) {
        const sub = trial(c, null, r.restKeyword);
        walk(wl[i], covering(r), sub);
        c.out.push(...sub.out);
        if (allCompatible(sub.out))
          add(c, 'ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL', `${what} removed; ${r.restKeyword} still accepts it`);
        else
          add(
            c,
            'ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            `${what} removed, and ${r.restKeyword} does not accept its values`,
            `${what} added with values the earlier ${r.restKeyword} does not accept`,
          );
      } else if (wl[i] === false) add(c, 'ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL', `forbidden ${what} removed`);
      else add(c, 'ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL', `${what} removed from a closed array`, `${what} added to a closed array`);
    } else {
      if (open(w)) {
        if (isEmptySchema(rl[i])) add(c, 'ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL', `unconstrained ${what} added`);
        else
          add(
            c,
            'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
            `${what} added to an open array, where earlier data may hold any value`,
            `${what} removed from an open array, so new data may hold any value there`,
          );
      } else if (covering(w) !== undefined) {
        const sub = trial(c, null, w.restKeyword);
        walk(covering(w), rl[i], sub);
        c.out.push(...sub.out);
        if (allCompatible(sub.out))
          add(c, 'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL', `${what} added within what ${w.restKeyword} allowed`);
        else
          add(
            c,
            'ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            `${what} added with values ${w.restKeyword} did not allow`,
            `${what} removed, and ${w.restKeyword} does not accept its values`,
          );
      } else add(c, 'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL', `${what} added to a closed array`, `${what} removed from a closed array`);
    }
  }
}
