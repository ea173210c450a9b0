import { type JsonSchema, DifferenceKinds, type DifferenceKind, type SchemaDifference, type InternalDifference } from './kinds.js';

/** A schema object, after `true`/`false` and `$ref`s are resolved. */
export type Obj = Readonly<Record<string, unknown>>;

/** Where the walk is (in the data and in the schema), both roots, and the list differences go to. */
export interface Ctx {
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

/** Nesting depth at which the walk stops, whatever the schemas. */
export const MAX_DEPTH = 256;
/** The combinator keywords, compared before any other keyword. */
export const COMBINATORS = ['allOf', 'anyOf', 'oneOf'] as const;
/** One of {@link COMBINATORS}. */
export type Combinator = (typeof COMBINATORS)[number];
/** The combinators that accept a value when any subschema does. */
export const UNIONS: readonly Combinator[] = ['anyOf', 'oneOf'];

/** Keywords that never change what validates. */
export const ANNOTATIONS = new Set([
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
export const OTHER_KEYWORDS = ['propertyNames', 'if', 'then', 'else', '$ref'] as const;

/** The JSON types each family of keywords applies to. */
export const GROUPS = {
  string: ['string'],
  number: ['number', 'integer'],
  object: ['object'],
  array: ['array'],
} as const;

/** A context one step down: `dataSegment` into the data (`null`: same value), `schemaSegment` into the schema. */
export function child(ctx: Ctx, dataSegment: string | null, schemaSegment: string, out: InternalDifference[] = ctx.out): Ctx {
  return {
    ...ctx,
    depth: ctx.depth + 1,
    path: dataSegment === null ? ctx.path : `${ctx.path}/${dataSegment}`,
    schemaPath: `${ctx.schemaPath}/${schemaSegment}`,
    out,
  };
}

/** A context whose differences are collected apart, to decide on them before keeping any. */
export function trial(ctx: Ctx, dataSegment: string | null, schemaSegment: string): Ctx {
  return child(ctx, dataSegment, schemaSegment, []);
}

/** The same context with writer and reader exchanged (for `not`, whose meaning is inverted). */
export function swapped(ctx: Ctx): Ctx {
  return { ...ctx, writerRoot: ctx.readerRoot, readerRoot: ctx.writerRoot };
}

/** Records one difference of `kind` at the context's place, with its verdict from {@link DifferenceKinds}. */
export function add(ctx: Ctx, kind: DifferenceKind, message: string, inverse = message, keyword?: string): void {
  ctx.out.push({
    kind,
    compatible: DifferenceKinds[kind],
    path: ctx.path === '' ? '/' : ctx.path,
    schemaPath: keyword === undefined ? ctx.schemaPath : `${ctx.schemaPath}/${keyword}`,
    message,
    inverse,
  });
}

/** Whether every difference in the list is compatible. */
export const allCompatible = (diffs: readonly SchemaDifference[]): boolean => diffs.every((d) => d.compatible);
/** The incompatible differences of the list. */
export const incompatibleOnly = (diffs: readonly InternalDifference[]): InternalDifference[] => diffs.filter((d) => !d.compatible);
