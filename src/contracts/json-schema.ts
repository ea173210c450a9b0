import type { OdcsProperty } from './contract.js';

type JsonSchema = Record<string, unknown>;

/**
 * ODCS logicalTypeOptions that map one-to-one onto JSON Schema keywords: the checks beyond the
 * type that only validation (not the TypeScript compiler) can make.
 */
export const PASS_THROUGH = [
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
] as const;

/** JSON Schema `format`s ajv-formats knows; other ODCS formats are documentation only. */
const KNOWN_FORMATS = new Set([
  'date',
  'time',
  'date-time',
  'duration',
  'uri',
  'uri-reference',
  'email',
  'hostname',
  'ipv4',
  'ipv6',
  'uuid',
  'byte',
  'regex',
]);

/**
 * Compiles ODCS properties into a closed JSON Schema object. A property that is not `required`
 * may be absent or null (ODCS: "may contain Null values"). Objects are closed
 * (`additionalProperties: false`) so that adding a field can later be judged compatible.
 */
export function objectSchema(properties: readonly OdcsProperty[]): JsonSchema {
  const props: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of properties) {
    const schema = propertySchema(p);
    props[p.name] = p.required === true ? schema : nullable(schema);
    if (p.required === true) required.push(p.name);
  }
  return { type: 'object', properties: props, required, additionalProperties: false };
}

function nullable(schema: JsonSchema): JsonSchema {
  const t = schema.type;
  const out: JsonSchema = { ...schema, type: Array.isArray(t) ? [...t, 'null'] : [t, 'null'] };
  // An enum lists every allowed value, so an optional one must list null too.
  if (Array.isArray(schema.enum)) out.enum = [...(schema.enum as unknown[]), null];
  return out;
}

function propertySchema(p: Omit<OdcsProperty, 'name'>): JsonSchema {
  const opts = p.logicalTypeOptions ?? {};
  const schema: JsonSchema = {};
  switch (p.logicalType ?? 'string') {
    case 'string':
      schema.type = 'string';
      if (typeof opts.format === 'string' && KNOWN_FORMATS.has(opts.format)) schema.format = opts.format;
      break;
    case 'date':
      // ODCS date/time options use JDK patterns for the physical layout; on the wire Herald
      // carries JSON, so dates are ISO 8601 strings.
      Object.assign(schema, { type: 'string', format: 'date' });
      break;
    case 'timestamp':
      Object.assign(schema, { type: 'string', format: 'date-time' });
      break;
    case 'time':
      Object.assign(schema, { type: 'string', format: 'time' });
      break;
    case 'number':
      schema.type = 'number';
      break;
    case 'integer':
      schema.type = 'integer';
      break;
    case 'boolean':
      schema.type = 'boolean';
      break;
    case 'object':
      Object.assign(schema, objectSchema(p.properties ?? []));
      break;
    case 'array':
      schema.type = 'array';
      schema.items = p.items === undefined ? {} : propertySchema(p.items);
      break;
  }
  for (const key of PASS_THROUGH) {
    // Date and timestamp bounds are strings in ODCS; JSON Schema bounds are numeric only.
    if (opts[key] !== undefined && !(typeof opts[key] === 'string' && key.includes('imum'))) schema[key] = opts[key];
  }
  const valid = validValuesOf(p);
  if (valid !== undefined) schema.enum = valid;
  if (p.description !== undefined) schema.description = p.description;
  if (p.examples !== undefined) schema.examples = p.examples;
  return schema;
}

/**
 * The allowed values of a property, from an ODCS `invalidValues` quality rule with
 * `arguments.validValues` (ODCS has no enum type; this is its way of saying one).
 */
export function validValuesOf(p: Pick<OdcsProperty, 'quality'>): readonly unknown[] | undefined {
  for (const q of p.quality ?? []) {
    const values = q.arguments?.validValues;
    if ((q.metric ?? q.rule) === 'invalidValues' && Array.isArray(values) && values.length > 0) return values;
  }
  return undefined;
}
