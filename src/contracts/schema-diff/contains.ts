/**
 * `contains` with its 2020-12 bounds `minContains` and `maxContains`: how many items must match
 * the `contains` schema. Widening `contains` lets more items match (safe unless `maxContains` caps
 * them); narrowing it lets fewer match (a break while at least one must match).
 */
import { type Obj, type Ctx, trial, add, allCompatible } from './context.js';
import { bound } from './scalars.js';
import { walk } from './walk.js';

/** Compares `contains`, `minContains` and `maxContains` of two array schemas. */
export function containsKeywords(w: Obj, r: Obj, ctx: Ctx): void {
  const k = 'contains';
  const [a, b] = [w[k], r[k]];
  if (a === undefined && b === undefined) return;
  if (a === undefined) {
    // `minContains: 0` without `maxContains` asks nothing of the items.
    if (r.minContains === 0 && r.maxContains === undefined) return;
    add(ctx, 'CONTAINS_ADDED', 'contains added: some item must now match it', 'contains removed', k);
    return;
  }
  if (b === undefined) {
    add(ctx, 'CONTAINS_REMOVED', 'contains removed', 'contains added: some item must now match it', k);
    return;
  }
  const sub = trial(ctx, '*', k);
  walk(a, b, sub);
  if (sub.out.length > 0) {
    if (!allCompatible(sub.out)) add(ctx, 'CONTAINS_NARROWED', 'contains matches fewer items', 'contains matches more items', k);
    else if (r.maxContains !== undefined)
      add(ctx, 'CONTAINS_CHANGED', 'contains matches more items, which maxContains may now exceed', undefined, k);
    else add(ctx, 'CONTAINS_EXTENDED', 'contains matches more items', 'contains matches fewer items', k);
  }
  // The bounds count matches of `contains`; 2020-12's default minimum is 1.
  bound(w.minContains ?? 1, r.minContains ?? 1, 'minContains', 'MIN_CONTAINS', ctx);
  bound(w.maxContains, r.maxContains, 'maxContains', 'MAX_CONTAINS', ctx);
}
