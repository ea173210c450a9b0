import { type Obj, type Ctx, COMBINATORS, type Combinator, UNIONS, child, trial, add, allCompatible, incompatibleOnly } from './context.js';
import { type JsonSchema, type InternalDifference } from './kinds.js';
import { typesOf, subschemas, omit, resolve, dedupe, mergeWriter } from './schema-helpers.js';
import { walk } from './walk.js';

/**
 * Compares the combinators of both schemas. Returns the rest of each schema (combinators taken
 * out) for the keyword walk, or `undefined` when the writer's union was distributed and every
 * branch was already compared with the whole reader.
 */
export function combinators(w0: Obj, r0: Obj, ctx: Ctx): { w: Obj; r: Obj } | undefined {
  const wk = COMBINATORS.filter((k) => Array.isArray(w0[k]));
  const rk = COMBINATORS.filter((k) => Array.isArray(r0[k]));
  if (wk.length === 0 && rk.length === 0) return { w: w0, r: r0 };
  let w = w0;
  let r = r0;

  // One combinator on each side, but a different one: Confluent's criterion rules.
  if (wk.length === 1 && rk.length === 1 && wk[0] !== rk[0]) {
    const [a, b] = [wk[0]!, rk[0]!];
    pairwise(subschemas(w, a), a, subschemas(r, b), b, ctx);
    return { w: omit(w, a), r: omit(r, b) };
  }

  // The writer's allOf alone: data met every subschema, so they are folded into one writer
  // schema. The fold may let through more than allOf did, never less, so the verdict stays safe.
  if (wk.includes('allOf') && !rk.includes('allOf')) {
    const folded = subschemas(w, 'allOf').reduce<JsonSchema>((acc, s) => mergeWriter(acc, resolve(s, ctx.writerRoot)), omit(w, 'allOf'));
    add(ctx, 'PRODUCT_TYPE_NARROWED', 'allOf removed', 'allOf added', 'allOf');
    walk(folded, r, ctx);
    return undefined;
  }

  // The writer's anyOf/oneOf alone: every alternative the writer allowed must still be read.
  const union = UNIONS.find((k) => wk.includes(k) && !rk.includes(k));
  if (union !== undefined) {
    const rest = omit(w, union);
    subschemas(w, union).forEach((alternative, i) => {
      const branch = mergeWriter(rest, resolve(alternative, ctx.writerRoot));
      const sub = trial(ctx, null, `${union}/${i}`);
      walk(branch, r, sub);
      if (allCompatible(sub.out)) ctx.out.push(...sub.out);
      else {
        add(
          child(ctx, null, `${union}/${i}`),
          'SUM_TYPE_NARROWED',
          `alternative ${i + 1} of ${union} is no longer accepted`,
          `alternative ${i + 1} of ${union} added`,
        );
        ctx.out.push(...incompatibleOnly(sub.out));
      }
    });
    return undefined;
  }

  // The same combinator on both sides: Confluent's subschema matching.
  const whole = w;
  for (const k of COMBINATORS) {
    if (wk.includes(k) && rk.includes(k)) {
      pairwise(subschemas(w, k), k, subschemas(r, k), k, ctx);
      w = omit(w, k);
      r = omit(r, k);
    }
  }

  // Combinators only the reader has: the writer's whole schema must satisfy them.
  for (const k of rk) {
    if (wk.includes(k)) continue;
    const alternatives = subschemas(r, k);
    const trials = alternatives.map((s, j) => {
      const sub = trial(ctx, null, `${k}/${j}`);
      walk(whole, s, sub);
      return sub.out;
    });
    if (k === 'allOf') {
      trials.forEach((diffs, j) => {
        if (allCompatible(diffs)) return;
        add(
          child(ctx, null, `allOf/${j}`),
          'PRODUCT_TYPE_EXTENDED',
          `allOf added with a subschema earlier data may not meet`,
          `allOf removed`,
        );
        ctx.out.push(...incompatibleOnly(diffs));
      });
    } else {
      const fits = trials.filter(allCompatible).sort((a, b) => a.length - b.length);
      if (fits.length > 0) {
        ctx.out.push(...fits[0]!);
        if (alternatives.length > 1) add(ctx, 'SUM_TYPE_EXTENDED', `became one alternative of ${k}`, `${k} removed`, k);
      } else if (splitByType(whole, alternatives, k, ctx)) {
        add(ctx, 'SUM_TYPE_EXTENDED', `each type became an alternative of ${k}`, `${k} replaced by a type list`, k);
      } else {
        add(ctx, 'TYPE_CHANGED', `changed to ${k}, and no alternative accepts the earlier schema`, `${k} replaced`, k);
        const closest = [...trials].sort((a, b) => incompatibleOnly(a).length - incompatibleOnly(b).length)[0] ?? [];
        if (alternatives.length === 1) ctx.out.push(...incompatibleOnly(closest));
      }
    }
    r = omit(r, k);
  }
  return { w, r };
}

/**
 * A writer with a type list (`type: [string, integer]`) is a union of one schema per type, as
 * Confluent's parser reads it; when each of those fits some alternative of the reader's union,
 * the reader reads everything. Keeps the differences of the fits and returns true, or keeps
 * nothing and returns false.
 */
function splitByType(whole: Obj, alternatives: readonly unknown[], k: Combinator, ctx: Ctx): boolean {
  const types = typesOf(whole);
  if (types === undefined || types.size < 2) return false;
  const kept: InternalDifference[] = [];
  for (const t of types) {
    const fit = alternatives
      .map((s, j) => {
        const sub = trial(ctx, null, `${k}/${j}`);
        walk({ ...whole, type: t }, s, sub);
        return sub.out;
      })
      .filter(allCompatible)
      .sort((a, b) => a.length - b.length)[0];
    if (fit === undefined) return false;
    kept.push(...fit);
  }
  ctx.out.push(...kept);
  return true;
}

/**
 * Confluent's `CombinedSchemaDiff`: the criterion, the number of subschemas, and a maximum
 * matching between writer and reader subschemas that are compatible pairwise.
 */
function pairwise(ws0: readonly unknown[], wk: Combinator, rs0: readonly unknown[], rk: Combinator, ctx: Ctx): void {
  const ws = dedupe(ws0);
  const rs = dedupe(rs0);
  if (wk !== rk) {
    const extended =
      rk === 'anyOf' || (ws.length === 1 && rs.length === 1) || (ws.length === 1 && rk === 'oneOf') || (rs.length === 1 && wk === 'allOf');
    if (!extended) {
      add(ctx, 'COMBINED_TYPE_CHANGED', `${wk} changed to ${rk}`, `${rk} changed to ${wk}`, rk);
      return;
    }
    add(ctx, 'COMBINED_TYPE_EXTENDED', `${wk} changed to ${rk}`, `${rk} changed to ${wk}`, rk);
  }
  if (ws.length < rs.length) {
    if (rk === 'allOf') add(ctx, 'PRODUCT_TYPE_EXTENDED', 'allOf gained a subschema', 'allOf lost a subschema', rk);
    else add(ctx, 'SUM_TYPE_EXTENDED', `${rk} gained an alternative`, `${rk} lost an alternative`, rk);
  } else if (ws.length > rs.length) {
    if (wk === 'allOf') add(ctx, 'PRODUCT_TYPE_NARROWED', 'allOf lost a subschema', 'allOf gained a subschema', rk);
    else add(ctx, 'SUM_TYPE_NARROWED', `${wk} lost an alternative`, `${wk} gained an alternative`, rk);
  }
  const edges = new Map<string, InternalDifference[]>();
  ws.forEach((ws_, i) =>
    rs.forEach((rs_, j) => {
      const sub = trial(ctx, null, `${rk}/${j}`);
      walk(ws_, rs_, sub);
      if (allCompatible(sub.out)) edges.set(`${i}:${j}`, sub.out);
    }),
  );
  const matching = maximumMatching(ws.length, rs.length, (i, j) => edges.has(`${i}:${j}`));
  for (const [i, j] of matching) ctx.out.push(...edges.get(`${i}:${j}`)!);
  if (matching.length < Math.min(ws.length, rs.length)) {
    add(
      ctx,
      'COMBINED_TYPE_SUBSCHEMAS_CHANGED',
      `subschemas of ${rk} changed: some have no compatible counterpart`,
      `subschemas of ${wk} changed: some have no compatible counterpart`,
      rk,
    );
  }
}

/** Kuhn's augmenting paths; the lists are a handful of subschemas long. */
function maximumMatching(left: number, right: number, edge: (i: number, j: number) => boolean): [number, number][] {
  const owner = new Array<number>(right).fill(-1);
  const tryAssign = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < right; j++) {
      if (!edge(i, j) || seen[j]) continue;
      seen[j] = true;
      if (owner[j] === -1 || tryAssign(owner[j]!, seen)) {
        owner[j] = i;
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < left; i++) tryAssign(i, new Array<boolean>(right).fill(false));
  return owner.flatMap((i, j) => (i === -1 ? [] : [[i, j] as [number, number]]));
}
