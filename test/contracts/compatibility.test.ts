import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkAll, checkCompatibility, formatFinding } from '../../src/contracts/compatibility.js';
import { diffSchemas, type DifferenceKind, type JsonSchema } from '../../src/contracts/schema-diff.js';
import { dataschemaOf, type CompatibilityMode, type Contract } from '../../src/contracts/contract.js';
import { parseContract } from '../../src/contracts/load.js';
import { HeraldError } from '../../src/errors.js';

type Schema = Record<string, unknown>;

/** A contract around a JSON Schema; the checks read only id, version, mode and schema. */
function contract(version: string, jsonSchema: JsonSchema, compatibility: CompatibilityMode = 'BACKWARD', id = 'shop.thing'): Contract {
  return {
    id,
    name: id,
    version,
    status: 'active',
    owner: undefined,
    description: undefined,
    eventType: id,
    topic: id,
    partitionKey: 'id',
    compatibility,
    warehouseTable: id.replace(/[.-]/g, '_'),
    warehouseEvolution: 'addColumns',
    slaProperties: [],
    quality: [],
    properties: [],
    jsonSchema: jsonSchema as Contract['jsonSchema'],
    dataschema: dataschemaOf(id, version),
    file: `${id}.v${version}.yaml`,
  };
}

function compatible(previous: JsonSchema, next: JsonSchema, mode: CompatibilityMode): boolean {
  return checkCompatibility(contract('2.0.0', next, mode), [contract('1.0.0', previous)]).compatible;
}

/** A closed object, as Herald compiles contracts. */
const closed = (properties: Schema, required: string[] = ['id'], extra: Schema = {}): Schema => ({
  type: 'object',
  properties: { id: { type: 'string' }, ...properties },
  required,
  additionalProperties: false,
  ...extra,
});

/** An object without additionalProperties: any other property may hold anything. */
const open = (properties: Schema, required: string[] = ['id']): Schema => ({
  type: 'object',
  properties: { id: { type: 'string' }, ...properties },
  required,
});

/** One required property `v` with `schema`, in a closed object: what changed sits at `/v`. */
const field = (schema: JsonSchema): Schema => closed({ v: schema }, ['id', 'v']);

/** An array property `tags` with `schema`. */
const list = (schema: Schema): Schema => field({ type: 'array', ...schema });

interface Case {
  /** The rule, as a sentence. */
  readonly rule: string;
  readonly previous: JsonSchema;
  readonly next: JsonSchema;
  readonly BACKWARD: boolean;
  readonly FORWARD: boolean;
  readonly FULL: boolean;
  /** A kind `diffSchemas(previous, next)` must report, and where. */
  readonly kind?: DifferenceKind;
  readonly path?: string;
}

// Expected verdicts come from the rules (Confluent's JSON Schema diff: BACKWARD compares
// writer = previous with reader = next; FORWARD swaps them; FULL is both), not from the code.
const cases: Case[] = [
  // Content models: closed (additionalProperties: false), open, partially open.
  {
    rule: 'adding an optional property to a closed object is backward but not forward compatible',
    previous: closed({}),
    next: closed({ note: { type: ['string', 'null'] } }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
    path: '/note',
  },
  {
    rule: 'adding a required property to a closed object breaks both ways',
    previous: closed({}),
    next: closed({ note: { type: 'string' } }, ['id', 'note']),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
    path: '/note',
  },
  {
    rule: 'adding a required property with a default to a closed object is backward compatible',
    previous: closed({}),
    next: closed({ note: { type: 'string', default: 'none' } }, ['id', 'note']),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL',
  },
  {
    rule: 'removing an optional property from a closed object is forward but not backward compatible',
    previous: closed({ note: { type: ['string', 'null'] } }),
    next: closed({}),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
    path: '/note',
  },
  {
    rule: 'removing a required property from a closed object breaks both ways',
    previous: closed({ note: { type: 'string' } }, ['id', 'note']),
    next: closed({}),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    rule: 'adding a property to an open object is forward but not backward compatible, since old data may hold anything under that name',
    previous: open({}),
    next: open({ note: { type: 'string' } }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
    path: '/note',
  },
  {
    rule: 'removing a property from an open object is backward but not forward compatible',
    previous: open({ note: { type: 'string' } }),
    next: open({}),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL',
  },
  {
    rule: 'adding an unconstrained property to an open object is fully compatible',
    previous: open({}),
    next: open({ note: {} }),
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
    kind: 'PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL',
  },
  {
    rule: 'adding a property that additionalProperties already allowed is fully compatible',
    previous: { ...open({}), additionalProperties: { type: 'string' } },
    next: { ...open({ code: { type: 'string' } }), additionalProperties: { type: 'string' } },
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
    kind: 'PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  },
  {
    rule: 'adding a property outside what additionalProperties allowed breaks both ways',
    previous: { ...open({}), additionalProperties: { type: 'string' } },
    next: { ...open({ code: { type: 'integer' } }), additionalProperties: { type: 'string' } },
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  },
  {
    rule: 'removing a property that additionalProperties still covers is fully compatible',
    previous: { ...open({ code: { type: 'string' } }), additionalProperties: { type: 'string' } },
    next: { ...open({}), additionalProperties: { type: 'string' } },
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
    kind: 'PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL',
  },
  {
    rule: 'removing a forbidden (false) property from a closed object is fully compatible',
    previous: closed({ legacy: false }),
    next: closed({}),
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
    kind: 'PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL',
  },
  {
    rule: 'opening a closed object is backward but not forward compatible',
    previous: closed({}),
    next: { ...closed({}), additionalProperties: true },
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'ADDITIONAL_PROPERTIES_ADDED',
  },
  {
    rule: 'closing an open object is forward but not backward compatible',
    previous: open({}),
    next: { ...open({}), additionalProperties: false },
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'ADDITIONAL_PROPERTIES_REMOVED',
  },
  {
    rule: 'giving additionalProperties a schema is forward but not backward compatible',
    previous: open({}),
    next: { ...open({}), additionalProperties: { type: 'string' } },
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'ADDITIONAL_PROPERTIES_NARROWED',
  },
  {
    rule: 'widening the schema of additionalProperties is backward but not forward compatible',
    previous: { ...open({}), additionalProperties: { type: 'string' } },
    next: { ...open({}), additionalProperties: { type: ['string', 'null'] } },
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_EXTENDED',
    path: '/*',
  },

  // Required.
  {
    rule: 'making an optional property required is forward but not backward compatible',
    previous: closed({ note: { type: ['string', 'null'] } }),
    next: closed({ note: { type: 'string' } }, ['id', 'note']),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'REQUIRED_ATTRIBUTE_ADDED',
    path: '/note',
  },
  {
    rule: 'making a required property optional is backward but not forward compatible',
    previous: closed({ note: { type: 'string' } }, ['id', 'note']),
    next: closed({ note: { type: ['string', 'null'] } }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'REQUIRED_ATTRIBUTE_REMOVED',
  },
  {
    rule: 'requiring a property that has a default is fully compatible',
    previous: closed({ n: { type: 'integer', default: 0 } }),
    next: closed({ n: { type: 'integer', default: 0 } }, ['id', 'n']),
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
    kind: 'REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED',
  },

  // Types.
  {
    rule: 'narrowing number to integer is forward but not backward compatible',
    previous: field({ type: 'number' }),
    next: field({ type: 'integer' }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'TYPE_NARROWED',
    path: '/v',
  },
  {
    rule: 'widening integer to number is backward but not forward compatible',
    previous: field({ type: 'integer' }),
    next: field({ type: 'number' }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_EXTENDED',
  },
  {
    rule: 'changing string to integer breaks both ways',
    previous: field({ type: 'string' }),
    next: field({ type: 'integer' }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_CHANGED',
  },
  {
    rule: 'making a property nullable is backward but not forward compatible',
    previous: field({ type: 'string' }),
    next: field({ type: ['string', 'null'] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_EXTENDED',
  },
  {
    rule: 'making a nullable property non-nullable is forward but not backward compatible',
    previous: field({ type: ['string', 'null'] }),
    next: field({ type: 'string' }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'TYPE_NARROWED',
  },
  {
    rule: 'dropping the type of a property is backward but not forward compatible',
    previous: field({ type: 'string' }),
    next: field({}),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_EXTENDED',
  },

  // Enums and const.
  {
    rule: 'adding an enum value is backward but not forward compatible',
    previous: field({ type: 'string', enum: ['NEW', 'PAID'] }),
    next: field({ type: 'string', enum: ['NEW', 'PAID', 'SHIPPED'] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'ENUM_ARRAY_EXTENDED',
  },
  {
    rule: 'removing an enum value is forward but not backward compatible',
    previous: field({ type: 'string', enum: ['NEW', 'PAID', 'SHIPPED'] }),
    next: field({ type: 'string', enum: ['NEW', 'PAID'] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'ENUM_ARRAY_NARROWED',
  },
  {
    rule: 'replacing an enum value breaks both ways',
    previous: field({ type: 'string', enum: ['NEW', 'PAID'] }),
    next: field({ type: 'string', enum: ['NEW', 'SETTLED'] }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'ENUM_ARRAY_CHANGED',
  },
  {
    rule: 'restricting a free string to an enum is forward but not backward compatible',
    previous: field({ type: 'string' }),
    next: field({ type: 'string', enum: ['NEW', 'PAID'] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'ENUM_ADDED',
  },
  {
    rule: 'changing a const breaks both ways',
    previous: field({ const: 'v1' }),
    next: field({ const: 'v2' }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'ENUM_ARRAY_CHANGED',
  },
  {
    rule: 'an optional enum that lists null too becomes nullable without an enum finding of its own',
    previous: field({ type: 'string', enum: ['NEW', 'PAID'] }),
    next: field({ type: ['string', 'null'], enum: ['NEW', 'PAID', null] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_EXTENDED',
  },

  // Strings.
  ...bounds('maxLength', 'string', 'MAX_LENGTH', 'upper'),
  ...bounds('minLength', 'string', 'MIN_LENGTH', 'lower'),
  {
    rule: 'adding a pattern is forward but not backward compatible',
    previous: field({ type: 'string' }),
    next: field({ type: 'string', pattern: '^[A-Z]{3}$' }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'PATTERN_ADDED',
  },
  {
    rule: 'removing a pattern is backward but not forward compatible',
    previous: field({ type: 'string', pattern: '^[A-Z]{3}$' }),
    next: field({ type: 'string' }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'PATTERN_REMOVED',
  },
  {
    rule: 'changing a pattern breaks both ways, even when one looks wider',
    previous: field({ type: 'string', pattern: '^[A-Z]{3}$' }),
    next: field({ type: 'string', pattern: '^[A-Z]{2,4}$' }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'PATTERN_CHANGED',
  },
  {
    rule: 'adding a format is forward but not backward compatible',
    previous: field({ type: 'string' }),
    next: field({ type: 'string', format: 'email' }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'FORMAT_ADDED',
  },
  {
    rule: 'removing a format is backward but not forward compatible',
    previous: field({ type: 'string', format: 'date-time' }),
    next: field({ type: 'string' }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'FORMAT_REMOVED',
  },
  {
    rule: 'changing a format breaks both ways',
    previous: field({ type: 'string', format: 'date' }),
    next: field({ type: 'string', format: 'date-time' }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'FORMAT_CHANGED',
  },

  // Numbers.
  ...bounds('maximum', 'number', 'MAXIMUM', 'upper'),
  ...bounds('minimum', 'number', 'MINIMUM', 'lower'),
  ...bounds('exclusiveMaximum', 'number', 'EXCLUSIVE_MAXIMUM', 'upper'),
  ...bounds('exclusiveMinimum', 'number', 'EXCLUSIVE_MINIMUM', 'lower'),
  {
    rule: "lowering a draft-04 boolean exclusiveMaximum's bound is forward but not backward compatible",
    previous: field({ type: 'number', maximum: 10, exclusiveMaximum: true }),
    next: field({ type: 'number', maximum: 5, exclusiveMaximum: true }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'EXCLUSIVE_MAXIMUM_DECREASED',
  },
  {
    rule: 'adding multipleOf is forward but not backward compatible',
    previous: field({ type: 'number' }),
    next: field({ type: 'number', multipleOf: 0.01 }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'MULTIPLE_OF_ADDED',
  },
  {
    rule: 'removing multipleOf is backward but not forward compatible',
    previous: field({ type: 'number', multipleOf: 0.01 }),
    next: field({ type: 'number' }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'MULTIPLE_OF_REMOVED',
  },
  {
    rule: 'a multipleOf that is a multiple of the old one is forward but not backward compatible',
    previous: field({ type: 'integer', multipleOf: 5 }),
    next: field({ type: 'integer', multipleOf: 10 }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'MULTIPLE_OF_EXPANDED',
  },
  {
    rule: 'a multipleOf that divides the old one is backward but not forward compatible, decimals included',
    previous: field({ type: 'number', multipleOf: 0.01 }),
    next: field({ type: 'number', multipleOf: 0.005 }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'MULTIPLE_OF_REDUCED',
  },
  {
    rule: 'an unrelated multipleOf breaks both ways',
    previous: field({ type: 'integer', multipleOf: 2 }),
    next: field({ type: 'integer', multipleOf: 3 }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'MULTIPLE_OF_CHANGED',
  },

  // Objects' own bounds and dependencies.
  {
    rule: 'lowering maxProperties is forward but not backward compatible',
    previous: { ...open({}), maxProperties: 5 },
    next: { ...open({}), maxProperties: 3 },
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'MAX_PROPERTIES_DECREASED',
  },
  {
    rule: 'adding a property dependency is forward but not backward compatible',
    previous: closed({ card: { type: 'string' }, cvc: { type: 'string' } }),
    next: closed({ card: { type: 'string' }, cvc: { type: 'string' } }, ['id'], { dependencies: { card: ['cvc'] } }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'DEPENDENCY_ARRAY_ADDED',
  },

  // Arrays.
  ...bounds('maxItems', 'array', 'MAX_ITEMS', 'upper'),
  ...bounds('minItems', 'array', 'MIN_ITEMS', 'lower'),
  {
    rule: 'adding uniqueItems is forward but not backward compatible',
    previous: list({ items: { type: 'string' } }),
    next: list({ items: { type: 'string' }, uniqueItems: true }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'UNIQUE_ITEMS_ADDED',
  },
  {
    rule: 'widening the type of array items is backward but not forward compatible',
    previous: list({ items: { type: 'integer' } }),
    next: list({ items: { type: 'number' } }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'TYPE_EXTENDED',
    path: '/v/*',
  },
  {
    rule: 'constraining the items of an unconstrained array is forward but not backward compatible',
    previous: list({}),
    next: list({ items: { type: 'string' } }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'SCHEMA_ADDED',
    path: '/v/*',
  },
  {
    rule: 'adding a position to a closed tuple is backward but not forward compatible',
    previous: list({ items: [{ type: 'string' }], additionalItems: false }),
    next: list({ items: [{ type: 'string' }, { type: 'integer' }], additionalItems: false }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL',
    path: '/v/1',
  },
  {
    rule: 'adding a position to an open tuple is forward but not backward compatible',
    previous: list({ items: [{ type: 'string' }] }),
    next: list({ items: [{ type: 'string' }, { type: 'integer' }] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
  },
  {
    rule: 'allowing additional items after a closed tuple is backward but not forward compatible',
    previous: list({ items: [{ type: 'string' }], additionalItems: false }),
    next: list({ items: [{ type: 'string' }] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'ADDITIONAL_ITEMS_ADDED',
  },

  // Nesting.
  {
    rule: 'a required property removed from the closed objects of an array breaks both ways, at its path inside the items',
    previous: closed({ lines: { type: 'array', items: closed({ sku: { type: 'string' } }, ['id', 'sku']) } }),
    next: closed({ lines: { type: 'array', items: closed({}, ['id']) } }),
    BACKWARD: false,
    FORWARD: false,
    FULL: false,
    kind: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
    path: '/lines/*/sku',
  },
  {
    rule: 'a nested object gaining an optional property is backward but not forward compatible',
    previous: closed({ address: closed({ city: { type: 'string' } }) }),
    next: closed({ address: closed({ city: { type: 'string' }, zip: { type: ['string', 'null'] } }) }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
    path: '/address/zip',
  },
  {
    rule: 'a change behind a local $ref is found at the property that uses it',
    previous: { ...closed({ total: { $ref: '#/definitions/money' } }), definitions: { money: { type: 'number' } } },
    next: { ...closed({ total: { $ref: '#/definitions/money' } }), definitions: { money: { type: 'integer' } } },
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'TYPE_NARROWED',
    path: '/total',
  },

  // Combined schemas.
  {
    rule: 'an anyOf that gains an alternative is backward but not forward compatible',
    previous: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }),
    next: field({ anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'SUM_TYPE_EXTENDED',
  },
  {
    rule: 'a oneOf that loses an alternative is forward but not backward compatible',
    previous: field({ oneOf: [{ type: 'string' }, { type: 'integer' }] }),
    next: field({ oneOf: [{ type: 'string' }] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'SUM_TYPE_NARROWED',
  },
  {
    rule: 'an anyOf whose alternative is narrowed is forward but not backward compatible',
    previous: field({ anyOf: [{ type: 'string', maxLength: 10 }, { type: 'integer' }] }),
    next: field({ anyOf: [{ type: 'string', maxLength: 5 }, { type: 'integer' }] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'COMBINED_TYPE_SUBSCHEMAS_CHANGED',
  },
  {
    rule: 'an allOf that gains a subschema is forward but not backward compatible',
    previous: field({ allOf: [{ type: 'object' }] }),
    next: field({ allOf: [{ type: 'object' }, { required: ['x'] }] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'PRODUCT_TYPE_EXTENDED',
  },
  {
    rule: 'an allOf that loses a subschema is backward but not forward compatible',
    previous: field({ allOf: [{ type: 'object' }, { required: ['x'] }] }),
    next: field({ allOf: [{ type: 'object' }] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'PRODUCT_TYPE_NARROWED',
  },
  {
    rule: 'turning oneOf into anyOf is backward but not forward compatible',
    previous: field({ oneOf: [{ type: 'string' }, { type: 'integer' }] }),
    next: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'COMBINED_TYPE_EXTENDED',
  },
  {
    rule: 'turning anyOf into allOf is forward but not backward compatible',
    previous: field({ anyOf: [{ type: 'object' }, { required: ['x'] }] }),
    next: field({ allOf: [{ type: 'object' }, { required: ['x'] }] }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'COMBINED_TYPE_CHANGED',
  },
  {
    rule: 'a schema that becomes one alternative of a new anyOf is backward but not forward compatible',
    previous: field({ type: 'string' }),
    next: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'SUM_TYPE_EXTENDED',
  },
  {
    rule: 'an anyOf replaced by one of its alternatives is forward but not backward compatible',
    previous: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }),
    next: field({ type: 'string' }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'SUM_TYPE_NARROWED',
  },
  {
    rule: 'an anyOf replaced by a type list that covers every alternative is fully compatible',
    previous: field({ anyOf: [{ type: 'string' }, { type: 'integer' }] }),
    next: field({ type: ['string', 'integer'] }),
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
  },
  {
    rule: 'a new allOf whose constraint old data may not meet is forward but not backward compatible',
    previous: closed({ a: { type: ['string', 'null'] } }),
    next: { ...closed({ a: { type: ['string', 'null'] } }), allOf: [{ required: ['a'] }] },
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'PRODUCT_TYPE_EXTENDED',
  },
  {
    rule: 'removing a not is backward but not forward compatible',
    previous: field({ type: 'string', not: { enum: ['N/A'] } }),
    next: field({ type: 'string' }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'NOT_TYPE_NARROWED',
  },
  {
    rule: 'adding a not is forward but not backward compatible',
    previous: field({ type: 'string' }),
    next: field({ type: 'string', not: { enum: ['N/A'] } }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'NOT_TYPE_EXTENDED',
  },
  {
    rule: 'a not that forbids fewer values is backward but not forward compatible',
    previous: field({ type: 'string', not: { enum: ['N/A', 'NONE'] } }),
    next: field({ type: 'string', not: { enum: ['N/A'] } }),
    BACKWARD: true,
    FORWARD: false,
    FULL: false,
    kind: 'NOT_TYPE_NARROWED',
  },

  // Keywords the differ does not model, and annotations.
  {
    rule: 'adding a keyword the differ does not model (propertyNames) is reported as not backward compatible',
    previous: field({ type: 'object' }),
    next: field({ type: 'object', propertyNames: { maxLength: 3 } }),
    BACKWARD: false,
    FORWARD: true,
    FULL: false,
    kind: 'KEYWORD_ADDED',
  },
  {
    rule: 'changing only a description is fully compatible',
    previous: field({ type: 'string', description: 'the old words' }),
    next: field({ type: 'string', description: 'better words' }),
    BACKWARD: true,
    FORWARD: true,
    FULL: true,
    kind: 'DESCRIPTION_CHANGED',
  },
];

/** The four cases of a numeric bound: an upper bound may rise, a lower one may fall. */
function bounds(keyword: string, type: string, prefix: string, side: 'upper' | 'lower'): Case[] {
  const schema = (value?: number): Schema => {
    const base: Schema = type === 'array' ? { type, items: { type: 'string' } } : { type };
    return value === undefined ? base : { ...base, [keyword]: value };
  };
  const widen = side === 'upper' ? [5, 10] : [10, 5];
  const narrow = side === 'upper' ? [10, 5] : [5, 10];
  return [
    {
      rule: `adding ${keyword} is forward but not backward compatible`,
      previous: field(schema()),
      next: field(schema(5)),
      BACKWARD: false,
      FORWARD: true,
      FULL: false,
      kind: `${prefix}_ADDED` as DifferenceKind,
      path: '/v',
    },
    {
      rule: `removing ${keyword} is backward but not forward compatible`,
      previous: field(schema(5)),
      next: field(schema()),
      BACKWARD: true,
      FORWARD: false,
      FULL: false,
      kind: `${prefix}_REMOVED` as DifferenceKind,
    },
    {
      rule: `${side === 'upper' ? 'raising' : 'lowering'} ${keyword} is backward but not forward compatible`,
      previous: field(schema(widen[0])),
      next: field(schema(widen[1])),
      BACKWARD: true,
      FORWARD: false,
      FULL: false,
      kind: `${prefix}_${side === 'upper' ? 'INCREASED' : 'DECREASED'}` as DifferenceKind,
    },
    {
      rule: `${side === 'upper' ? 'lowering' : 'raising'} ${keyword} is forward but not backward compatible`,
      previous: field(schema(narrow[0])),
      next: field(schema(narrow[1])),
      BACKWARD: false,
      FORWARD: true,
      FULL: false,
      kind: `${prefix}_${side === 'upper' ? 'DECREASED' : 'INCREASED'}` as DifferenceKind,
    },
  ];
}

describe('compatibility rules (previous → next, per mode)', () => {
  for (const c of cases) check(c);

  function check(c: Case): void {
    it(c.rule, () => {
      const verdicts = {
        BACKWARD: compatible(c.previous, c.next, 'BACKWARD'),
        FORWARD: compatible(c.previous, c.next, 'FORWARD'),
        FULL: compatible(c.previous, c.next, 'FULL'),
      };
      expect(verdicts).toEqual({ BACKWARD: c.BACKWARD, FORWARD: c.FORWARD, FULL: c.FULL });
      if (c.kind !== undefined) {
        const diffs = diffSchemas(c.previous, c.next);
        const found = diffs.find((d) => d.kind === c.kind);
        expect(found, `${c.kind} in ${JSON.stringify(diffs.map((d) => d.kind))}`).toBeDefined();
        if (c.path !== undefined) expect(found!.path).toBe(c.path);
      }
    });
  }

  it('every rule is checked with NONE as compatible, comparing with nothing', () => {
    for (const c of cases) {
      const r = checkCompatibility(contract('2.0.0', c.next, 'NONE'), [contract('1.0.0', c.previous)]);
      expect(r).toMatchObject({ compatible: true, comparedWith: [], findings: [] });
    }
  });
});

describe('diffSchemas', () => {
  it('finds no difference between identical schemas, $refs included', () => {
    const s = { ...closed({ total: { $ref: '#/definitions/money' } }), definitions: { money: { type: 'number' } } };
    expect(diffSchemas(s, structuredClone(s))).toEqual([]);
  });

  it('names the data path and the schema path of a difference inside array items', () => {
    const previous = closed({ lines: { type: 'array', items: closed({ quantity: { type: 'number' } }, ['id', 'quantity']) } });
    const next = closed({ lines: { type: 'array', items: closed({ quantity: { type: 'integer' } }, ['id', 'quantity']) } });
    expect(diffSchemas(previous, next)).toEqual([
      {
        kind: 'TYPE_NARROWED',
        compatible: false,
        path: '/lines/*/quantity',
        schemaPath: '#/properties/lines/items/properties/quantity/type',
        message: 'type narrowed from number to integer',
      },
    ]);
  });

  it('escapes property names in paths as JSON pointers do', () => {
    const [d] = diffSchemas(closed({ 'a/b~c': { type: 'number' } }), closed({ 'a/b~c': { type: 'integer' } }));
    expect(d!.path).toBe('/a~1b~0c');
  });

  it('stops at recursive $refs instead of walking forever', () => {
    const tree = (leaf: string): Schema => ({
      definitions: {
        node: { type: 'object', properties: { value: { type: leaf }, children: { type: 'array', items: { $ref: '#/definitions/node' } } } },
      },
      $ref: '#/definitions/node',
    });
    expect(diffSchemas(tree('number'), tree('integer')).map((d) => [d.kind, d.path])).toEqual([['TYPE_NARROWED', '/value']]);
  });

  it('takes boolean schemas at their word: false accepts nothing, true everything', () => {
    expect(diffSchemas(false, { type: 'string' })).toEqual([]);
    expect(diffSchemas({ type: 'string' }, true)).toEqual([]);
    expect(diffSchemas({ type: 'string' }, false).map((d) => d.kind)).toEqual(['TYPE_NARROWED']);
  });

  it('never prints the values of an enum in its messages', () => {
    const diffs = diffSchemas(field({ type: 'string', enum: ['SECRET-A', 'SECRET-B'] }), field({ type: 'string', enum: ['SECRET-A'] }));
    expect(diffs.map((d) => d.message)).toEqual(['allowed values narrowed (1 value removed)']);
  });
});

describe('checkCompatibility', () => {
  // 1.0.0 → 1.1.0 gives a required property a default (compatible: old data gets the default);
  // 1.2.0 drops that default (compatible with 1.1.0: a default is an annotation), which hides
  // that 1.0.0 data never had the property.
  const v1 = closed({});
  const v2 = closed({ n: { type: 'integer', default: 0 } }, ['id', 'n']);
  const v3 = closed({ n: { type: 'integer' } }, ['id', 'n']);

  it('compares BACKWARD with the immediately preceding version only, so a hidden break passes', () => {
    const r = checkCompatibility(contract('1.2.0', v3, 'BACKWARD'), [contract('1.0.0', v1), contract('1.1.0', v2)]);
    expect(r).toMatchObject({ compatible: true, comparedWith: ['1.1.0'], mode: 'BACKWARD' });
  });

  it('compares BACKWARD_TRANSITIVE with every earlier version and finds the break the middle step hid', () => {
    const r = checkCompatibility(contract('1.2.0', v3, 'BACKWARD_TRANSITIVE'), [contract('1.0.0', v1), contract('1.1.0', v2)]);
    expect(r.compatible).toBe(false);
    expect(r.comparedWith).toEqual(['1.0.0', '1.1.0']);
    expect(r.findings).toEqual([
      {
        against: '1.0.0',
        direction: 'BACKWARD',
        kind: 'REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
        path: '/n',
        schemaPath: '#/properties/n',
        message: "required property 'n' added",
      },
    ]);
  });

  it('finds a FORWARD_TRANSITIVE break that FORWARD misses, with the change described from old to new', () => {
    // The same chain backwards: a required property gets a default, then goes.
    const earlier = [contract('1.0.0', v3), contract('1.1.0', v2)];
    expect(checkCompatibility(contract('1.2.0', v1, 'FORWARD'), earlier).compatible).toBe(true);
    const r = checkCompatibility(contract('1.2.0', v1, 'FORWARD_TRANSITIVE'), earlier);
    expect(r.findings).toEqual([
      expect.objectContaining({ against: '1.0.0', direction: 'FORWARD', path: '/n', message: "required property 'n' removed" }),
    ]);
  });

  it('finds a FULL_TRANSITIVE break that FULL misses', () => {
    // n required without a default, then with one, then optional: each step is FULL compatible.
    const x1 = closed({ n: { type: 'integer' } }, ['id', 'n']);
    const x2 = closed({ n: { type: 'integer', default: 0 } }, ['id', 'n']);
    const x3 = closed({ n: { type: 'integer', default: 0 } });
    const earlier = [contract('1.0.0', x1), contract('1.1.0', x2)];
    expect(checkCompatibility(contract('1.2.0', x3, 'FULL'), earlier).compatible).toBe(true);
    const r = checkCompatibility(contract('1.2.0', x3, 'FULL_TRANSITIVE'), earlier);
    expect(r.findings.map((f) => [f.against, f.direction, f.kind])).toEqual([['1.0.0', 'FORWARD', 'REQUIRED_ATTRIBUTE_ADDED']]);
  });

  it('checks FULL in both directions and reports each with its own wording', () => {
    const r = checkCompatibility(contract('2.0.0', closed({ note: { type: ['string', 'null'] } }), 'FULL'), [
      contract('1.0.0', closed({})),
    ]);
    expect(r.findings).toEqual([
      expect.objectContaining({
        direction: 'FORWARD',
        kind: 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
        path: '/note',
        message: "property 'note' added to a closed object (additionalProperties: false)",
      }),
    ]);
  });

  it("uses the newer contract's mode, whatever the older one says", () => {
    const r = checkCompatibility(contract('2.0.0', field({ type: 'integer' }), 'BACKWARD'), [
      contract('1.0.0', field({ type: 'number' }), 'NONE'),
    ]);
    expect(r.compatible).toBe(false);
  });

  it('ignores versions of other contracts and versions not lower than the new one', () => {
    const r = checkCompatibility(contract('1.1.0', field({ type: 'integer' })), [
      contract('1.0.0', field({ type: 'string' }), 'BACKWARD', 'other.thing'),
      contract('1.2.0', field({ type: 'string' })),
      contract('1.0.0', field({ type: 'integer' })),
    ]);
    expect(r).toMatchObject({ compatible: true, comparedWith: ['1.0.0'] });
  });

  it('orders earlier versions numerically, so 1.10.0 is the one before 1.11.0', () => {
    const r = checkCompatibility(contract('1.11.0', field({ type: 'integer' })), [
      contract('1.10.0', field({ type: 'integer' })),
      contract('1.9.0', field({ type: 'string' })),
    ]);
    expect(r).toMatchObject({ compatible: true, comparedWith: ['1.10.0'] });
  });
});

describe('checkAll', () => {
  it('checks every version of every contract against its predecessors, sorted by id and version', () => {
    const results = checkAll([
      contract('2.0.0', field({ type: 'integer' })),
      contract('1.0.0', field({ type: 'number' }), 'BACKWARD', 'a.first'),
      contract('1.0.0', field({ type: 'number' })),
    ]);
    expect(results.map((r) => [r.contract, r.version, r.compatible, r.comparedWith])).toEqual([
      ['a.first', '1.0.0', true, []],
      ['shop.thing', '1.0.0', true, []],
      ['shop.thing', '2.0.0', false, ['1.0.0']],
    ]);
  });

  it('refuses two contracts with the same id and version, naming both files', () => {
    expect(() => checkAll([contract('1.0.0', field({})), contract('1.0.0', field({}))])).toThrow(HeraldError);
    expect(() => checkAll([contract('1.0.0', field({})), contract('1.0.0', field({}))])).toThrow(/version 1\.0\.0 is declared twice/);
  });
});

describe('ODCS contracts', () => {
  const EXAMPLE = readFileSync('examples/orders/contracts/order-placed.v1.yaml', 'utf8');
  const v1 = parseContract(EXAMPLE, 'order-placed.v1.yaml');
  const edit = (version: string, ...replacements: [string | RegExp, string][]): Contract =>
    parseContract(
      replacements.reduce<string>((text, [from, to]) => text.replace(from, to), EXAMPLE.replace('version: 1.0.0', `version: ${version}`)),
      `order-placed.v${version}.yaml`,
    );

  it('reports a narrowed type in the words of the finding line', () => {
    const v2 = edit('2.0.0', [/- name: total\n {8}logicalType: number/, '- name: total\n        logicalType: integer']);
    const [r1, r2] = checkAll([v1, v2]);
    expect(r1!.compatible).toBe(true);
    expect(r2!.findings.map((f) => formatFinding(r2!, f))).toEqual([
      "version 2.0.0 of 'orders.order-placed' breaks BACKWARD against 1.0.0: /total: type narrowed from number to integer",
    ]);
  });

  it('accepts an optional property added to the closed event under BACKWARD', () => {
    const v11 = edit('1.1.0', ['      - name: placedAt\n', '      - name: coupon\n        logicalType: string\n      - name: placedAt\n']);
    expect(checkAll([v1, v11]).every((r) => r.compatible)).toBe(true);
  });

  it('refuses a property made required, pointing at it, and a bound tightened inside array items', () => {
    const v2 = edit(
      '2.0.0',
      ['        classification: pii\n', '        classification: pii\n        required: true\n'],
      ['logicalTypeOptions: { minimum: 1 }', 'logicalTypeOptions: { minimum: 2 }'],
    );
    const r = checkCompatibility(v2, [v1]);
    expect(r.findings.map((f) => [f.path, f.kind])).toEqual([
      ['/customerEmail', 'REQUIRED_ATTRIBUTE_ADDED'],
      ['/customerEmail', 'TYPE_NARROWED'],
      ['/lines/*/quantity', 'MINIMUM_INCREASED'],
    ]);
  });

  it('treats an enum from an invalidValues quality rule like a JSON Schema enum', () => {
    const withEnum = (version: string, values: string): Contract =>
      edit(version, [
        "logicalTypeOptions: { pattern: '^[A-Z]{3}$' }",
        `quality:\n          - metric: invalidValues\n            mustBe: 0\n            arguments: { validValues: [${values}] }`,
      ]);
    expect(checkCompatibility(withEnum('1.1.0', 'EUR, USD, GBP'), [withEnum('1.0.0', 'EUR, USD')]).compatible).toBe(true);
    const narrowed = checkCompatibility(withEnum('1.1.0', 'EUR'), [withEnum('1.0.0', 'EUR, USD')]);
    expect(narrowed.findings.map((f) => [f.path, f.kind, f.message])).toEqual([
      ['/currency', 'ENUM_ARRAY_NARROWED', 'allowed values narrowed (1 value removed)'],
    ]);
  });
});
