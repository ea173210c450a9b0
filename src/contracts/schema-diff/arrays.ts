import { type Obj, type Ctx, child, trial, add, allCompatible } from './context.js';
import { bound } from './scalars.js';
import { isObject, isEmptySchema } from './schema-helpers.js';
import { walk } from './walk.js';

/** Compares the array keywords: `items` (one schema or a tuple), `additionalItems`, `maxItems`/`minItems`, `uniqueItems`. */
export function arrays(w: Obj, r: Obj, ctx: Ctx): void {
  const [wi, ri] = [w.items, r.items];
  const wAll = wi !== undefined && !Array.isArray(wi) ? wi : undefined;
  const rAll = ri !== undefined && !Array.isArray(ri) ? ri : undefined;
  const items = child(ctx, '*', 'items');
  if (wAll === undefined && rAll !== undefined) {
    if (!isEmptySchema(rAll)) add(items, 'SCHEMA_ADDED', 'item schema added', 'item schema removed');
  } else if (wAll !== undefined && rAll === undefined) {
    if (!isEmptySchema(wAll)) add(items, 'SCHEMA_REMOVED', 'item schema removed', 'item schema added');
  } else if (wAll !== undefined && rAll !== undefined) walk(wAll, rAll, items);

  tupleItems(w, r, Array.isArray(wi) ? wi : [], Array.isArray(ri) ? ri : [], ctx);

  const k = 'additionalItems';
  const wPermits = w[k] !== false;
  const rPermits = r[k] !== false;
  const ws = isObject(w[k]) ? w[k] : undefined;
  const rs = isObject(r[k]) ? r[k] : undefined;
  if (wPermits !== rPermits) {
    if (rPermits) add(ctx, 'ADDITIONAL_ITEMS_ADDED', 'additional items now allowed', 'additional items no longer allowed', k);
    else add(ctx, 'ADDITIONAL_ITEMS_REMOVED', 'additional items no longer allowed', 'additional items now allowed', k);
  } else if (wPermits) {
    if (ws === undefined && rs !== undefined)
      add(ctx, 'ADDITIONAL_ITEMS_NARROWED', 'additionalItems restricted to a schema', 'additionalItems no longer restricted', k);
    else if (ws !== undefined && rs === undefined)
      add(ctx, 'ADDITIONAL_ITEMS_EXTENDED', 'additionalItems no longer restricted', 'additionalItems restricted to a schema', k);
    else if (ws !== undefined && rs !== undefined) walk(ws, rs, child(ctx, '*', k));
  }

  bound(w.maxItems, r.maxItems, 'maxItems', 'MAX_ITEMS', ctx);
  bound(w.minItems, r.minItems, 'minItems', 'MIN_ITEMS', ctx);
  const [wu, ru] = [w.uniqueItems === true, r.uniqueItems === true];
  if (wu && !ru) add(ctx, 'UNIQUE_ITEMS_REMOVED', 'uniqueItems removed', 'uniqueItems added', 'uniqueItems');
  else if (!wu && ru) add(ctx, 'UNIQUE_ITEMS_ADDED', 'uniqueItems added', 'uniqueItems removed', 'uniqueItems');
}

/** Confluent's `ArraySchemaDiff` for tuples (`items` as a list): position by position, then the content models. */
function tupleItems(w: Obj, r: Obj, wl: readonly unknown[], rl: readonly unknown[], ctx: Ctx): void {
  const open = (s: Obj): boolean => s.additionalItems === undefined || s.additionalItems === true;
  const covering = (s: Obj): unknown => (isObject(s.additionalItems) ? s.additionalItems : undefined);
  for (let i = 0; i < Math.max(wl.length, rl.length); i++) {
    const c = child(ctx, String(i), `items/${i}`);
    const what = `tuple item ${i}`;
    if (i < wl.length && i < rl.length) walk(wl[i], rl[i], c);
    else if (i < wl.length) {
      if (open(r)) add(c, 'ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL', `${what} removed from an open array`, `${what} added to an open array`);
      else if (covering(r) !== undefined) {
        const sub = trial(c, null, 'additionalItems');
        walk(wl[i], covering(r), sub);
        c.out.push(...sub.out);
        if (allCompatible(sub.out))
          add(c, 'ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL', `${what} removed; additionalItems still accepts it`);
        else
          add(
            c,
            'ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            `${what} removed, and additionalItems does not accept its values`,
            `${what} added with values the earlier additionalItems does not accept`,
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
        const sub = trial(c, null, 'additionalItems');
        walk(covering(w), rl[i], sub);
        c.out.push(...sub.out);
        if (allCompatible(sub.out))
          add(c, 'ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL', `${what} added within what additionalItems allowed`);
        else
          add(
            c,
            'ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            `${what} added with values additionalItems did not allow`,
            `${what} removed, and additionalItems does not accept its values`,
          );
      } else add(c, 'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL', `${what} added to a closed array`, `${what} removed from a closed array`);
    }
  }
}
