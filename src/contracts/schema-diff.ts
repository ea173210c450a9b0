/**
 * The JSON Schema differ behind contract compatibility (see `compatibility.ts`), with Confluent
 * Schema Registry's meaning.
 *
 * The differ walks a *writer* schema (the one data was validated against) and a *reader* schema
 * (the one that will validate that data again) and lists every difference with a kind. Each kind
 * is either compatible — a reader with the updated schema still accepts everything the writer's
 * schema accepted — or not; the list of kinds and their verdicts is Confluent's
 * (`io.confluent.kafka.schemaregistry.json.diff.Difference` and `SchemaDiff.COMPATIBLE_CHANGES`
 * in confluentinc/schema-registry), with a few additions marked "Herald" below. Like Confluent,
 * BACKWARD compares (writer = earlier version, reader = new version) and FORWARD swaps the two.
 *
 * The comparison is keyword by keyword, as Confluent's is. That makes it conservative: a change
 * is called compatible only when each keyword alone proves it; a change that is safe only through
 * an interplay of keywords (say `maximum: 10` replaced by `exclusiveMaximum: 11`) is reported as a
 * break. It never calls a breaking change compatible, with two exceptions it inherits from
 * Confluent on purpose: a required property with a `default` is treated as compatible (a reader
 * fills the default in; Herald's validator does not, and Herald's compiler emits no defaults), and
 * `oneOf` is compared like `anyOf` (a value that matches two alternatives is not looked for).
 */

/** A JSON Schema: an object of keywords, or `true` (anything) / `false` (nothing). */
export type JsonSchema = boolean | Readonly<Record<string, unknown>>;

/**
 * Every kind of difference the differ reports, each with its verdict: `true` when a reader using
 * the updated schema still accepts all data valid under the original one (Confluent's
 * `COMPATIBLE_CHANGES`), `false` when some of that data would be refused. Kinds marked Herald are
 * not in Confluent's list; Confluent ignores `format`, and reports the others as `TYPE_CHANGED`.
 */
export const DifferenceKinds = {
  ID_CHANGED: true,
  DESCRIPTION_CHANGED: true,
  TITLE_CHANGED: true,
  DEFAULT_CHANGED: true,
  SCHEMA_ADDED: false,
  SCHEMA_REMOVED: true,
  TYPE_EXTENDED: true,
  TYPE_NARROWED: false,
  TYPE_CHANGED: false,

  MAX_LENGTH_ADDED: false,
  MAX_LENGTH_REMOVED: true,
  MAX_LENGTH_INCREASED: true,
  MAX_LENGTH_DECREASED: false,
  MIN_LENGTH_ADDED: false,
  MIN_LENGTH_REMOVED: true,
  MIN_LENGTH_INCREASED: false,
  MIN_LENGTH_DECREASED: true,
  PATTERN_ADDED: false,
  PATTERN_REMOVED: true,
  PATTERN_CHANGED: false,
  /** Herald: ajv checks `format`, so a new or different format can refuse earlier data. */
  FORMAT_ADDED: false,
  /** Herald. */
  FORMAT_REMOVED: true,
  /** Herald. */
  FORMAT_CHANGED: false,

  MAXIMUM_ADDED: false,
  MAXIMUM_REMOVED: true,
  MAXIMUM_INCREASED: true,
  MAXIMUM_DECREASED: false,
  MINIMUM_ADDED: false,
  MINIMUM_REMOVED: true,
  MINIMUM_INCREASED: false,
  MINIMUM_DECREASED: true,
  EXCLUSIVE_MAXIMUM_ADDED: false,
  EXCLUSIVE_MAXIMUM_REMOVED: true,
  EXCLUSIVE_MAXIMUM_INCREASED: true,
  EXCLUSIVE_MAXIMUM_DECREASED: false,
  EXCLUSIVE_MINIMUM_ADDED: false,
  EXCLUSIVE_MINIMUM_REMOVED: true,
  EXCLUSIVE_MINIMUM_INCREASED: false,
  EXCLUSIVE_MINIMUM_DECREASED: true,
  MULTIPLE_OF_ADDED: false,
  MULTIPLE_OF_REMOVED: true,
  /** The new `multipleOf` is a multiple of the old one: fewer values pass. */
  MULTIPLE_OF_EXPANDED: false,
  /** The old `multipleOf` is a multiple of the new one: more values pass. */
  MULTIPLE_OF_REDUCED: true,
  MULTIPLE_OF_CHANGED: false,

  REQUIRED_ATTRIBUTE_ADDED: false,
  REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED: true,
  REQUIRED_ATTRIBUTE_REMOVED: true,
  MAX_PROPERTIES_ADDED: false,
  MAX_PROPERTIES_REMOVED: true,
  MAX_PROPERTIES_INCREASED: true,
  MAX_PROPERTIES_DECREASED: false,
  MIN_PROPERTIES_ADDED: false,
  MIN_PROPERTIES_REMOVED: true,
  MIN_PROPERTIES_INCREASED: false,
  MIN_PROPERTIES_DECREASED: true,
  /** `additionalProperties` went from `false` to allowed. */
  ADDITIONAL_PROPERTIES_ADDED: true,
  /** `additionalProperties` became `false`. */
  ADDITIONAL_PROPERTIES_REMOVED: false,
  /** `additionalProperties` lost its schema (any value allowed now). */
  ADDITIONAL_PROPERTIES_EXTENDED: true,
  /** `additionalProperties` gained a schema. */
  ADDITIONAL_PROPERTIES_NARROWED: false,
  DEPENDENCY_ARRAY_ADDED: false,
  DEPENDENCY_ARRAY_REMOVED: true,
  DEPENDENCY_ARRAY_EXTENDED: false,
  DEPENDENCY_ARRAY_NARROWED: true,
  DEPENDENCY_ARRAY_CHANGED: false,
  DEPENDENCY_SCHEMA_ADDED: false,
  DEPENDENCY_SCHEMA_REMOVED: true,
  /** A property with a schema added where any value was allowed: earlier data may hold anything there. */
  PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: false,
  PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL: true,
  REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL: false,
  REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL: true,
  /** An optional property added to a closed (or partially open) object: earlier data never had it. */
  OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL: true,
  PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL: true,
  PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL: true,
  /** A property removed from a closed object: earlier data that has it is refused. */
  PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL: false,
  PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,
  PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,

  MAX_ITEMS_ADDED: false,
  MAX_ITEMS_REMOVED: true,
  MAX_ITEMS_INCREASED: true,
  MAX_ITEMS_DECREASED: false,
  MIN_ITEMS_ADDED: false,
  MIN_ITEMS_REMOVED: true,
  MIN_ITEMS_INCREASED: false,
  MIN_ITEMS_DECREASED: true,
  UNIQUE_ITEMS_ADDED: false,
  UNIQUE_ITEMS_REMOVED: true,
  ADDITIONAL_ITEMS_ADDED: true,
  ADDITIONAL_ITEMS_REMOVED: false,
  ADDITIONAL_ITEMS_EXTENDED: true,
  ADDITIONAL_ITEMS_NARROWED: false,
  ITEM_ADDED_TO_OPEN_CONTENT_MODEL: false,
  ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL: true,
  ITEM_ADDED_TO_CLOSED_CONTENT_MODEL: true,
  ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL: true,
  ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL: true,
  ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL: false,
  ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,
  ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,

  ENUM_ARRAY_EXTENDED: true,
  ENUM_ARRAY_NARROWED: false,
  ENUM_ARRAY_CHANGED: false,
  /** Herald: a list of allowed values (`enum` or `const`) where any value was allowed. */
  ENUM_ADDED: false,
  /** Herald: the list of allowed values is gone. */
  ENUM_REMOVED: true,

  /** The combinator changed in a way that accepts more (to `anyOf`, or between singletons). */
  COMBINED_TYPE_EXTENDED: true,
  COMBINED_TYPE_CHANGED: false,
  /** `allOf` has more subschemas. */
  PRODUCT_TYPE_EXTENDED: false,
  /** `allOf` has fewer subschemas, or is gone. */
  PRODUCT_TYPE_NARROWED: true,
  /** `anyOf`/`oneOf` has more alternatives, or a schema became one alternative of them. */
  SUM_TYPE_EXTENDED: true,
  /** `anyOf`/`oneOf` lost an alternative that earlier data may match. */
  SUM_TYPE_NARROWED: false,
  /** Some subschemas have no compatible counterpart on the other side. */
  COMBINED_TYPE_SUBSCHEMAS_CHANGED: false,
  /** `not` forbids more values. */
  NOT_TYPE_EXTENDED: false,
  /** `not` forbids fewer values. */
  NOT_TYPE_NARROWED: true,

  /** Herald: a validation keyword the differ does not model (`contains`, `if`, an unresolved `$ref`...) appeared. */
  KEYWORD_ADDED: false,
  /** Herald: such a keyword is gone. */
  KEYWORD_REMOVED: true,
  /** Herald: such a keyword changed; it cannot be proven compatible. */
  KEYWORD_CHANGED: false,
} as const satisfies Record<string, boolean>;

/** One of the keys of {@link DifferenceKinds}. */
export type DifferenceKind = keyof typeof DifferenceKinds;

/** One difference between a writer's and a reader's schema. */
export interface SchemaDifference {
  readonly kind: DifferenceKind;
  /** `DifferenceKinds[kind]`: whether the reader still accepts everything the writer's schema accepted. */
  readonly compatible: boolean;
  /**
   * Where in the *data* the difference is, as a JSON pointer: `/total`, `/lines/*\/quantity`.
   * `*` stands for every item of an array (and every property an object's `additionalProperties`
   * or `patternProperties` govern); a number is a tuple position; `/` is the whole value.
   */
  readonly path: string;
  /** Where in the schema, Confluent's way: `#/properties/lines/items/properties/quantity/type`. */
  readonly schemaPath: string;
  /** What changed, lowercase, naming the property or keyword; never a data value. */
  readonly message: string;
}

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

/** A difference with the wording of the opposite edit, for FORWARD reports. */
export interface InternalDifference extends SchemaDifference {
  /** The same difference described from the reader's side (used for FORWARD findings). */
  readonly inverse: string;
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

// ---------------------------------------------------------------------------------------------
// The walk

type Obj = Readonly<Record<string, unknown>>;

interface Ctx {
  readonly path: string;
  readonly schemaPath: string;
  readonly writerRoot: JsonSchema;
  readonly readerRoot: JsonSchema;
  /** Writer/reader pairs being compared, so recursive `$ref`s stop. */
  readonly stack: Set<string>;
  /** Nesting depth, a second stop for recursion through merged (fresh) schemas. */
  readonly depth: number;
  readonly out: InternalDifference[];
}

const MAX_DEPTH = 256;
const COMBINATORS = ['allOf', 'anyOf', 'oneOf'] as const;
type Combinator = (typeof COMBINATORS)[number];
const UNIONS: readonly Combinator[] = ['anyOf', 'oneOf'];

/** Keywords that never change what validates. */
const ANNOTATIONS = new Set([
  'title',
  'description',
  'default',
  'examples',
  '$comment',
  '$id',
  'id',
  '$schema',
  'readOnly',
  'writeOnly',
  'deprecated',
  'definitions',
  '$defs',
  'contentMediaType',
  'contentEncoding',
]);

/** Validation keywords the differ does not model: any change to them is reported, conservatively. */
const OTHER_KEYWORDS = [
  'contains',
  'minContains',
  'maxContains',
  'propertyNames',
  'if',
  'then',
  'else',
  'dependentRequired',
  'dependentSchemas',
  'prefixItems',
  'unevaluatedProperties',
  'unevaluatedItems',
  '$ref',
] as const;

const GROUPS = {
  string: ['string'],
  number: ['number', 'integer'],
  object: ['object'],
  array: ['array'],
} as const;

function child(ctx: Ctx, dataSegment: string | null, schemaSegment: string, out: InternalDifference[] = ctx.out): Ctx {
  return {
    ...ctx,
    depth: ctx.depth + 1,
    path: dataSegment === null ? ctx.path : `${ctx.path}/${dataSegment}`,
    schemaPath: `${ctx.schemaPath}/${schemaSegment}`,
    out,
  };
}

/** A context whose differences are collected apart, to decide on them before keeping any. */
function trial(ctx: Ctx, dataSegment: string | null, schemaSegment: string): Ctx {
  return child(ctx, dataSegment, schemaSegment, []);
}

function swapped(ctx: Ctx): Ctx {
  return { ...ctx, writerRoot: ctx.readerRoot, readerRoot: ctx.writerRoot };
}

function add(ctx: Ctx, kind: DifferenceKind, message: string, inverse = message, keyword?: string): void {
  ctx.out.push({
    kind,
    compatible: DifferenceKinds[kind],
    path: ctx.path === '' ? '/' : ctx.path,
    schemaPath: keyword === undefined ? ctx.schemaPath : `${ctx.schemaPath}/${keyword}`,
    message,
    inverse,
  });
}

const allCompatible = (diffs: readonly SchemaDifference[]): boolean => diffs.every((d) => d.compatible);
const incompatibleOnly = (diffs: readonly InternalDifference[]): InternalDifference[] => diffs.filter((d) => !d.compatible);

function walk(writer0: unknown, reader0: unknown, ctx: Ctx): void {
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
    const rest = combinators(w, r, ctx);
    if (rest !== undefined) keywords(rest.w, rest.r, ctx);
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

// ---------------------------------------------------------------------------------------------
// allOf / anyOf / oneOf

/**
 * Compares the combinators of both schemas. Returns the rest of each schema (combinators taken
 * out) for the keyword walk, or `undefined` when the writer's union was distributed and every
 * branch was already compared with the whole reader.
 */
function combinators(w0: Obj, r0: Obj, ctx: Ctx): { w: Obj; r: Obj } | undefined {
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

// ---------------------------------------------------------------------------------------------
// Keywords

function keywords(w: Obj, r: Obj, ctx: Ctx): void {
  const wt = typesOf(w);
  const rt = typesOf(r);
  types(wt, rt, ctx);
  values(w, r, wt, rt, ctx);
  const both = (group: keyof typeof GROUPS): boolean => canBe(wt, group) && canBe(rt, group);
  if (both('string')) strings(w, r, ctx);
  if (both('number')) numbers(w, r, ctx);
  if (both('object')) objects(w, r, ctx);
  if (both('array')) arrays(w, r, ctx);
  not(w, r, ctx);
  for (const keyword of OTHER_KEYWORDS) other(w, r, keyword, ctx);
}

function typesOf(s: Obj): Set<string> | undefined {
  if (typeof s.type === 'string') return new Set([s.type]);
  if (Array.isArray(s.type)) return new Set(s.type.filter((t): t is string => typeof t === 'string'));
  return undefined;
}

function canBe(types: Set<string> | undefined, group: keyof typeof GROUPS): boolean {
  return types === undefined || GROUPS[group].some((t) => types.has(t));
}

/** Whether a value of JSON type `t` passes a `type` keyword with `types` (integers are numbers). */
function covers(types: Set<string> | undefined, t: string): boolean {
  return types === undefined || types.has(t) || (t === 'integer' && types.has('number'));
}

function typeText(types: Set<string> | undefined): string {
  return types === undefined ? 'any type' : [...types].sort().join(' or ') || 'no type';
}

function types(wt: Set<string> | undefined, rt: Set<string> | undefined, ctx: Ctx): void {
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

function values(w: Obj, r: Obj, wt: Set<string> | undefined, rt: Set<string> | undefined, ctx: Ctx): void {
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
  | 'MIN_ITEMS'
  | 'MAX_PROPERTIES'
  | 'MIN_PROPERTIES';

/** A numeric bound keyword: added, removed, raised or lowered. The kinds' verdicts say which is safe. */
function bound(wv: unknown, rv: unknown, keyword: string, prefix: BoundPrefix, ctx: Ctx): void {
  const a = typeof wv === 'number' ? wv : undefined;
  const b = typeof rv === 'number' ? rv : undefined;
  if (a === b) return;
  if (a === undefined) add(ctx, `${prefix}_ADDED`, `${keyword} ${b} added`, `${keyword} ${b} removed`, keyword);
  else if (b === undefined) add(ctx, `${prefix}_REMOVED`, `${keyword} ${a} removed`, `${keyword} ${a} added`, keyword);
  else if (a < b) add(ctx, `${prefix}_INCREASED`, `${keyword} raised from ${a} to ${b}`, `${keyword} lowered from ${b} to ${a}`, keyword);
  else add(ctx, `${prefix}_DECREASED`, `${keyword} lowered from ${a} to ${b}`, `${keyword} raised from ${b} to ${a}`, keyword);
}

function strings(w: Obj, r: Obj, ctx: Ctx): void {
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

function numbers(w: Obj, r: Obj, ctx: Ctx): void {
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

// ----- objects

/** No `patternProperties`, and `additionalProperties` absent or `true`: any other property may hold anything. */
function isOpenObject(s: Obj): boolean {
  return !hasPatterns(s) && (s.additionalProperties === undefined || s.additionalProperties === true);
}

function hasPatterns(s: Obj): boolean {
  return isObject(s.patternProperties) && Object.keys(s.patternProperties).length > 0;
}

/** The schema a partially open object gives an undeclared property `name`: a matching pattern's, else `additionalProperties`'. */
function coveringSchema(s: Obj, name: string): unknown {
  if (isObject(s.patternProperties)) {
    for (const [pattern, schema] of Object.entries(s.patternProperties)) if (matches(pattern, name)) return schema;
  }
  return isObject(s.additionalProperties) ? s.additionalProperties : undefined;
}

function matches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(name);
  } catch {
    return false;
  }
}

function objects(w: Obj, r: Obj, ctx: Ctx): void {
  const wp = isObject(w.properties) ? w.properties : {};
  const rp = isObject(r.properties) ? r.properties : {};
  const wreq = new Set(stringList(w.required));
  const rreq = new Set(stringList(r.required));
  const added = new Set(Object.keys(rp).filter((n) => !(n in wp)));

  for (const n of new Set([...wreq, ...rreq])) {
    if (added.has(n)) continue;
    const c = child(ctx, escape(n), `properties/${escape(n)}`);
    if (wreq.has(n) && !rreq.has(n))
      add(c, 'REQUIRED_ATTRIBUTE_REMOVED', `property '${n}' became optional`, `property '${n}' became required`, 'required');
    else if (!wreq.has(n) && rreq.has(n)) {
      if (hasDefault(rp[n]))
        add(
          c,
          'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED',
          `property '${n}' became required, with a default`,
          `property '${n}' became optional`,
          'required',
        );
      else add(c, 'REQUIRED_ATTRIBUTE_ADDED', `property '${n}' became required`, `property '${n}' became optional`, 'required');
    }
  }

  for (const n of new Set([...Object.keys(wp), ...Object.keys(rp)])) {
    const c = child(ctx, escape(n), `properties/${escape(n)}`);
    if (n in wp && n in rp) walk(wp[n], rp[n], c);
    else if (n in wp) propertyRemoved(n, wp[n], r, c);
    else propertyAdded(n, rp[n], w, rreq.has(n), wreq.has(n), c);
  }

  patternProperties(w, r, wp, ctx);
  additionalProperties(w, r, ctx);
  dependencies(w, r, ctx);
  bound(w.maxProperties, r.maxProperties, 'maxProperties', 'MAX_PROPERTIES', ctx);
  bound(w.minProperties, r.minProperties, 'minProperties', 'MIN_PROPERTIES', ctx);
}

/** Confluent: only the reader's content model decides whether dropping a property is safe. */
function propertyRemoved(n: string, schema: unknown, reader: Obj, c: Ctx): void {
  if (isOpenObject(reader)) {
    add(
      c,
      'PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL',
      `property '${n}' removed from an open object`,
      `property '${n}' added to an open object`,
    );
    return;
  }
  const covering = coveringSchema(reader, n);
  if (covering !== undefined) {
    const sub = trial(c, null, 'additionalProperties');
    walk(schema, covering, sub);
    c.out.push(...sub.out);
    if (allCompatible(sub.out))
      add(
        c,
        'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
        `property '${n}' removed; additionalProperties still accepts it`,
        `property '${n}' added within additionalProperties`,
      );
    else
      add(
        c,
        'PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
        `property '${n}' removed, and additionalProperties does not accept its values`,
        `property '${n}' added with values the earlier additionalProperties does not accept`,
      );
    return;
  }
  if (schema === false) add(c, 'PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL', `forbidden property '${n}' removed`);
  else
    add(
      c,
      'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
      `property '${n}' removed from a closed object (additionalProperties: false)`,
      `property '${n}' added to a closed object (additionalProperties: false)`,
    );
}

/** Confluent: only the writer's content model decides whether adding a property is safe. */
function propertyAdded(n: string, schema: unknown, writer: Obj, required: boolean, wasRequired: boolean, c: Ctx): void {
  if (isOpenObject(writer)) {
    if (isEmptySchema(schema)) {
      add(c, 'PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL', `unconstrained property '${n}' added to an open object`);
      if (required && !wasRequired)
        add(c, 'REQUIRED_ATTRIBUTE_ADDED', `property '${n}' became required`, `property '${n}' became optional`, 'required');
    } else
      add(
        c,
        'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
        `property '${n}' added to an open object, where earlier data may hold any value under that name`,
        `property '${n}' removed from an open object, so new data may hold any value under that name`,
      );
    return;
  }
  const covering = coveringSchema(writer, n);
  if (covering !== undefined) {
    const sub = trial(c, null, 'additionalProperties');
    walk(covering, schema, sub);
    c.out.push(...sub.out);
    if (allCompatible(sub.out))
      add(
        c,
        'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
        `property '${n}' added within what additionalProperties allowed`,
        `property '${n}' removed; additionalProperties still accepts it`,
      );
    else
      add(
        c,
        'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
        `property '${n}' added with values additionalProperties did not allow`,
        `property '${n}' removed, and additionalProperties does not accept its values`,
      );
  }
  if (!required)
    add(c, 'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL', `optional property '${n}' added`, `optional property '${n}' removed`);
  else if (hasDefault(schema))
    add(
      c,
      'REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL',
      `required property '${n}' added with a default`,
      `required property '${n}' removed`,
    );
  else add(c, 'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL', `required property '${n}' added`, `required property '${n}' removed`);
}

/**
 * `patternProperties` are compared pattern by pattern. A pattern that disappears leaves its
 * properties to the reader's content model; a new one constrains the writer's matching
 * properties, and whatever the writer's content model let through.
 */
function patternProperties(w: Obj, r: Obj, wp: Obj, ctx: Ctx): void {
  const wpp = isObject(w.patternProperties) ? w.patternProperties : {};
  const rpp = isObject(r.patternProperties) ? r.patternProperties : {};
  for (const pattern of new Set([...Object.keys(wpp), ...Object.keys(rpp)])) {
    const c = child(ctx, '*', `patternProperties/${escape(pattern)}`);
    const what = `properties matching pattern ${JSON.stringify(pattern)}`;
    if (pattern in wpp && pattern in rpp) walk(wpp[pattern], rpp[pattern], c);
    else if (pattern in wpp) {
      if (isOpenObject(r)) add(c, 'PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL', `${what} no longer constrained`, `${what} constrained`);
      else if (isObject(r.additionalProperties)) {
        const sub = trial(c, null, 'additionalProperties');
        walk(wpp[pattern], r.additionalProperties, sub);
        c.out.push(...sub.out);
        if (allCompatible(sub.out))
          add(c, 'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL', `${what} left to additionalProperties, which accepts them`);
        else
          add(
            c,
            'PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            `${what} left to additionalProperties, which does not accept them`,
            `${what} allowed beyond what additionalProperties accepted`,
          );
      } else
        add(
          c,
          'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
          `${what} no longer allowed (additionalProperties: false)`,
          `${what} allowed where the earlier object was closed`,
        );
    } else {
      for (const [name, schema] of Object.entries(wp)) {
        if (matches(pattern, name)) walk(schema, rpp[pattern], child(ctx, escape(name), `patternProperties/${escape(pattern)}`));
      }
      if (isOpenObject(w)) {
        if (!isEmptySchema(rpp[pattern]))
          add(c, 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL', `${what} constrained in an open object`, `${what} no longer constrained`);
      } else if (isObject(w.additionalProperties)) {
        const sub = trial(c, null, 'additionalProperties');
        walk(w.additionalProperties, rpp[pattern], sub);
        c.out.push(...sub.out);
        if (allCompatible(sub.out))
          add(c, 'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL', `${what} constrained within additionalProperties`);
        else
          add(
            c,
            'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
            `${what} constrained beyond what additionalProperties allowed`,
            `${what} left to additionalProperties, which does not accept them`,
          );
      } else add(c, 'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL', `${what} allowed`);
    }
  }
}

function additionalProperties(w: Obj, r: Obj, ctx: Ctx): void {
  const k = 'additionalProperties';
  const wPermits = w[k] !== false;
  const rPermits = r[k] !== false;
  const ws = isObject(w[k]) ? w[k] : undefined;
  const rs = isObject(r[k]) ? r[k] : undefined;
  if (wPermits !== rPermits) {
    if (rPermits)
      add(ctx, 'ADDITIONAL_PROPERTIES_ADDED', 'additional properties now allowed', 'additional properties no longer allowed', k);
    else
      add(
        ctx,
        'ADDITIONAL_PROPERTIES_REMOVED',
        'additional properties no longer allowed (additionalProperties: false)',
        'additional properties now allowed',
        k,
      );
  } else if (!wPermits) return;
  else if (ws === undefined && rs !== undefined)
    add(
      ctx,
      'ADDITIONAL_PROPERTIES_NARROWED',
      'additionalProperties restricted to a schema',
      'additionalProperties no longer restricted',
      k,
    );
  else if (ws !== undefined && rs === undefined)
    add(
      ctx,
      'ADDITIONAL_PROPERTIES_EXTENDED',
      'additionalProperties no longer restricted',
      'additionalProperties restricted to a schema',
      k,
    );
  else if (ws !== undefined && rs !== undefined) walk(ws, rs, child(ctx, '*', k));
}

function dependencies(w: Obj, r: Obj, ctx: Ctx): void {
  const wd = isObject(w.dependencies) ? w.dependencies : {};
  const rd = isObject(r.dependencies) ? r.dependencies : {};
  for (const n of new Set([...Object.keys(wd), ...Object.keys(rd)])) {
    const c = child(ctx, null, `dependencies/${escape(n)}`);
    const [a, b] = [wd[n], rd[n]];
    const what = `dependencies of property '${n}'`;
    if (Array.isArray(a) || Array.isArray(b)) {
      if (!Array.isArray(b)) add(c, 'DEPENDENCY_ARRAY_REMOVED', `${what} removed`, `${what} added`);
      else if (!Array.isArray(a)) add(c, 'DEPENDENCY_ARRAY_ADDED', `${what} added`, `${what} removed`);
      else {
        const sa = new Set(stringList(a));
        const sb = new Set(stringList(b));
        const bHasA = [...sa].every((x) => sb.has(x));
        const aHasB = [...sb].every((x) => sa.has(x));
        if (bHasA && aHasB) continue;
        if (bHasA) add(c, 'DEPENDENCY_ARRAY_EXTENDED', `${what} extended`, `${what} reduced`);
        else if (aHasB) add(c, 'DEPENDENCY_ARRAY_NARROWED', `${what} reduced`, `${what} extended`);
        else add(c, 'DEPENDENCY_ARRAY_CHANGED', `${what} changed`);
      }
    }
    const aSchema = a !== undefined && !Array.isArray(a) ? a : undefined;
    const bSchema = b !== undefined && !Array.isArray(b) ? b : undefined;
    if (aSchema !== undefined && bSchema !== undefined) walk(aSchema, bSchema, c);
    else if (aSchema !== undefined)
      add(c, 'DEPENDENCY_SCHEMA_REMOVED', `schema dependency of property '${n}' removed`, `schema dependency of property '${n}' added`);
    else if (bSchema !== undefined)
      add(c, 'DEPENDENCY_SCHEMA_ADDED', `schema dependency of property '${n}' added`, `schema dependency of property '${n}' removed`);
  }
}

// ----- arrays

function arrays(w: Obj, r: Obj, ctx: Ctx): void {
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

// ----- not, and what the differ does not model

function not(w: Obj, r: Obj, ctx: Ctx): void {
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

// ---------------------------------------------------------------------------------------------
// Schema helpers

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function subschemas(s: Obj, k: Combinator): unknown[] {
  return Array.isArray(s[k]) ? (s[k] as unknown[]) : [];
}

function omit(s: Obj, k: string): Obj {
  const rest: Record<string, unknown> = { ...s };
  delete rest[k];
  return rest;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function hasDefault(s: unknown): boolean {
  return isObject(s) && 'default' in s;
}

/** `true`, or an object with nothing but annotations: it accepts every value. */
function isEmptySchema(s: unknown): boolean {
  return s === true || (isObject(s) && Object.keys(s).every((k) => ANNOTATIONS.has(k)));
}

/** RFC 6901 escaping of one pointer segment. */
function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Follows local `$ref`s (`#/...` JSON pointers); draft-07 ignores a `$ref`'s sibling keywords. */
function resolve(s: unknown, root: JsonSchema): unknown {
  let current = s;
  for (let hops = 0; hops < 32 && isObject(current) && typeof current.$ref === 'string' && current.$ref.startsWith('#'); hops++) {
    const target = pointer(root, current.$ref.slice(1));
    if (target === undefined) return current;
    current = target;
  }
  return current;
}

function pointer(root: unknown, ptr: string): unknown {
  if (ptr === '') return root;
  if (!ptr.startsWith('/')) return undefined;
  let node: unknown = root;
  for (const raw of ptr.slice(1).split('/')) {
    const segment = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isObject(node)) node = node[segment];
    else return undefined;
  }
  return node;
}

const ids = new WeakMap<object, number>();
let nextId = 0;
function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = ++nextId));
  return id;
}

/** Structural equality of JSON values; object key order does not matter. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
}

/**
 * Equal schemas, provided neither holds a `$ref`: the same `$ref` may point at different
 * definitions in the two documents, so those are always walked.
 */
function sameSchema(a: unknown, b: unknown): boolean {
  return deepEqual(a, b) && !JSON.stringify(a).includes('"$ref"');
}

function dedupe(list: readonly unknown[]): unknown[] {
  return list.filter((s, i) => list.findIndex((t) => deepEqual(s, t)) === i);
}

/**
 * Everything a value must meet under both schemas, as one schema, for the *writer* side only: it
 * may accept more than the two together (conflicting keywords keep one side), never less, so a
 * compatibility verdict drawn from it stays safe.
 */
function mergeWriter(a0: unknown, b0: unknown): JsonSchema {
  if (a0 === false || b0 === false) return false;
  const a: Obj = isObject(a0) ? a0 : {};
  const b: Obj = isObject(b0) ? b0 : {};
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (!(k in out)) {
      out[k] = v;
      continue;
    }
    const mine = out[k];
    switch (k) {
      case 'type': {
        const ta = typesOf(a);
        const tb = typesOf(b);
        if (ta === undefined || tb === undefined) break;
        const both = [...ta].filter((t) => covers(tb, t)).concat([...tb].filter((t) => t === 'integer' && ta.has('number')));
        if (both.length === 0) return false;
        out.type = [...new Set(both)];
        break;
      }
      case 'required':
        out.required = [...new Set([...stringList(mine), ...stringList(v)])];
        break;
      case 'properties': {
        const merged: Record<string, unknown> = { ...(isObject(mine) ? mine : {}) };
        for (const [name, s] of Object.entries(isObject(v) ? v : {})) merged[name] = name in merged ? mergeWriter(merged[name], s) : s;
        out.properties = merged;
        break;
      }
      case 'enum':
        if (Array.isArray(mine) && Array.isArray(v)) out.enum = mine.filter((x) => v.some((y) => deepEqual(x, y)));
        break;
      case 'allOf':
        out.allOf = [...subschemas(a, 'allOf'), ...subschemas(b, 'allOf')];
        break;
      case 'maximum':
      case 'exclusiveMaximum':
      case 'maxLength':
      case 'maxItems':
      case 'maxProperties':
        if (typeof mine === 'number' && typeof v === 'number') out[k] = Math.min(mine, v);
        break;
      case 'minimum':
      case 'exclusiveMinimum':
      case 'minLength':
      case 'minItems':
      case 'minProperties':
        if (typeof mine === 'number' && typeof v === 'number') out[k] = Math.max(mine, v);
        break;
      default:
      // Either value alone accepts at least what both together accept.
    }
  }
  return out;
}
