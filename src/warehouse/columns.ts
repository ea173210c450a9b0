import type { OdcsProperty } from '../contracts/contract.js';
import { protect, type PiiTreatment } from './pii.js';

/** Scalar column types, named independently of any one warehouse. */
export type ScalarKind = 'varchar' | 'uuid' | 'timestamptz' | 'date' | 'time' | 'bigint' | 'double' | 'boolean' | 'json';

/**
 * A warehouse column type derived from a contract. Sinks render it in their dialect: DuckDB keeps
 * structs and lists typed, PostgreSQL stores them as `jsonb`.
 */
export type ColumnType =
  | { readonly kind: ScalarKind }
  | { readonly kind: 'decimal'; readonly precision: number; readonly scale: number }
  | { readonly kind: 'struct'; readonly fields: readonly Field[] }
  | { readonly kind: 'list'; readonly item: ColumnType };

/** A column, or a field of a struct column. */
export interface Field {
  /** The snake_case (or `physicalName`) name in the warehouse. */
  readonly name: string;
  /** The contract property it is read from; undefined for a field only the table still has. */
  readonly property: string | undefined;
  readonly type: ColumnType;
  /** `hash` or `mask` when the property is personal data (the type is then `varchar`). */
  readonly pii?: Exclude<PiiTreatment, 'drop'>;
}

/**
 * The property name in snake_case: `customerId` → `customer_id`, `HTTPStatus` → `http_status`.
 * Lowercase names need no quoting in any SQL dialect, and analysts expect them.
 */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .toLowerCase();
}

const DECIMAL = /^\s*(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*$/i;

/**
 * The column type of a property, before personal-data treatment. `physicalType: DECIMAL(p,s)` on
 * a number gives an exact decimal; enums stay `varchar`, because adding an allowed value is a
 * compatible contract change that must not alter the table.
 */
export function typeOfProperty(p: Omit<OdcsProperty, 'name'>, fieldsOf: (props: readonly OdcsProperty[]) => Field[]): ColumnType {
  const format = p.logicalTypeOptions?.format;
  switch (p.logicalType ?? 'string') {
    case 'string':
      return { kind: format === 'uuid' ? 'uuid' : format === 'date-time' ? 'timestamptz' : format === 'date' ? 'date' : 'varchar' };
    case 'date':
      return { kind: 'date' };
    case 'timestamp':
      return { kind: 'timestamptz' };
    case 'time':
      return { kind: 'time' };
    case 'integer':
      return { kind: 'bigint' };
    case 'number': {
      const m = DECIMAL.exec(p.physicalType ?? '');
      return m ? { kind: 'decimal', precision: Number(m[1]), scale: Number(m[2]) } : { kind: 'double' };
    }
    case 'boolean':
      return { kind: 'boolean' };
    case 'object': {
      const fields = fieldsOf(p.properties ?? []);
      return fields.length === 0 ? { kind: 'json' } : { kind: 'struct', fields };
    }
    case 'array':
      return p.items === undefined ? { kind: 'json' } : { kind: 'list', item: typeOfProperty(p.items, fieldsOf) };
  }
}

/** Types equal in every detail (struct fields in order). */
export function sameType(a: ColumnType, b: ColumnType): boolean {
  return JSON.stringify(stripped(a)) === JSON.stringify(stripped(b));
}

function stripped(t: ColumnType): unknown {
  if (t.kind === 'struct') return { kind: t.kind, fields: t.fields.map((f) => [f.name, stripped(f.type)]) };
  if (t.kind === 'list') return { kind: t.kind, item: stripped(t.item) };
  return t;
}

/**
 * Merges the type a table has (`old`) with the type a contract version wants (`next`): struct
 * fields are united (old ones first), list items merged; anything else must be equal. Returns the
 * merged type, or a description of the first incompatible change at `path`.
 */
export function mergeTypes(old: ColumnType, next: ColumnType, path: string): ColumnType | { conflict: string } {
  if (old.kind === 'struct' && next.kind === 'struct') {
    const fields: Field[] = [];
    for (const f of old.fields) {
      const other = next.fields.find((n) => n.name === f.name);
      if (!other) {
        fields.push(f);
        continue;
      }
      const merged = mergeFields(f, other, `${path}.${f.name}`);
      if ('conflict' in merged) return merged;
      fields.push(merged);
    }
    for (const n of next.fields) if (!old.fields.some((f) => f.name === n.name)) fields.push(n);
    return { kind: 'struct', fields };
  }
  if (old.kind === 'list' && next.kind === 'list') {
    const item = mergeTypes(old.item, next.item, `${path}[]`);
    return 'conflict' in item ? item : { kind: 'list', item };
  }
  if (sameType(old, next)) return next;
  return { conflict: `'${path}' changes from ${describeType(old)} to ${describeType(next)}` };
}

/**
 * Merges one column (or struct field) the table has with the one a version wants. Between two
 * contract versions a change of personal-data treatment is a conflict: the column would mix raw
 * and protected values. A field read from the warehouse's catalog (no `property`) carries no
 * treatment, so there only the types are compared.
 */
export function mergeFields(old: Field, next: Field, path: string): Field | { conflict: string } {
  if (old.property !== undefined && old.pii !== next.pii)
    return { conflict: `'${path}' changes its personal-data treatment from ${old.pii ?? 'none'} to ${next.pii ?? 'none'}` };
  const type = mergeTypes(old.type, next.type, path);
  return 'conflict' in type ? type : { ...next, property: next.property ?? old.property, type };
}

/** A readable, dialect-neutral spelling of a type, for error messages. */
export function describeType(t: ColumnType): string {
  switch (t.kind) {
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'struct':
      return `struct(${t.fields.map((f) => `${f.name} ${describeType(f.type)}`).join(', ')})`;
    case 'list':
      return `${describeType(t.item)}[]`;
    default:
      return t.kind;
  }
}

/**
 * A column's value as text for staging, or null. `type` is the table's (merged) type; `own` is the
 * field as the event's own contract version defines it (undefined when that version lacks the
 * column), which decides where the value is read from and whether it is personal. Scalars come
 * out in their SQL input form; structs, lists and JSON as JSON text whose objects carry every
 * field of `type` (absent ones as null, which DuckDB's strict JSON-to-struct cast requires) under
 * their warehouse names. Personal values are hashed or masked here, before anything is written.
 */
export function columnText(
  type: ColumnType,
  own: Field | undefined,
  data: Readonly<Record<string, unknown>>,
  key: Buffer | undefined,
): string | null {
  if (own === undefined) return null;
  const value = data[own.property!];
  if (value === null || value === undefined) return null;
  if (own.pii) return protect(value, own.pii, key);
  switch (type.kind) {
    case 'struct':
    case 'list':
      return JSON.stringify(nested(type, own.type, value, key));
    case 'json':
      return JSON.stringify(value);
    default:
      return typeof value === 'string' ? value : JSON.stringify(value);
  }
}

function nested(type: ColumnType, own: ColumnType, value: unknown, key: Buffer | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (type.kind === 'struct') {
    if (own.kind !== 'struct' || typeof value !== 'object' || Array.isArray(value)) return null;
    const source = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const f of type.fields) {
      const mine = own.fields.find((o) => o.name === f.name);
      const v = mine?.property === undefined ? null : source[mine.property];
      out[f.name] = mine?.pii ? protect(v, mine.pii, key) : mine ? nested(f.type, mine.type, v, key) : null;
    }
    return out;
  }
  if (type.kind === 'list')
    return Array.isArray(value) && own.kind === 'list' ? value.map((v) => nested(type.item, own.item, v, key)) : null;
  return value;
}

/** Reads one column's text from a validated payload; see {@link compileColumn}. */
export type ColumnReader = (data: Readonly<Record<string, unknown>>) => string | null;

/**
 * Struct field names an object would not keep as an own key in declaration order (array-index
 * names come first; `__proto__` sets the prototype): left to the generic path.
 */
const UNORDERED_NAME = /^(?:0|[1-9]\d*|__proto__)$/;

/**
 * {@link columnText} for one column and one contract version, prepared once: the same text for
 * every payload, without walking the types again per event. Nested values (structs, lists) are
 * written straight to JSON text, field by field, instead of being copied into new objects and
 * serialised afterwards; where that could differ from `JSON.stringify` (struct field names that
 * look like array indexes, which objects reorder, `__proto__`, or names that repeat) the generic path is used.
 */
export function compileColumn(type: ColumnType, own: Field | undefined, key: Buffer | undefined): ColumnReader {
  if (own === undefined) return () => null;
  const property = own.property!;
  if (own.pii) {
    const treatment = own.pii;
    return (data) => protect(data[property], treatment, key);
  }
  switch (type.kind) {
    case 'struct':
    case 'list': {
      const write = compileNested(type, own.type, key);
      if (write === undefined) return (data) => columnText(type, own, data, key);
      return (data) => {
        const value = data[property];
        return value === null || value === undefined ? null : write(value);
      };
    }
    case 'json':
      return (data) => {
        const value = data[property];
        return value === null || value === undefined ? null : JSON.stringify(value);
      };
    default:
      return (data) => {
        const value = data[property];
        if (value === null || value === undefined) return null;
        return typeof value === 'string' ? value : JSON.stringify(value);
      };
  }
}

/** JSON text of `nested(type, own, value, key)`, or undefined when a struct's names rule this out. */
function compileNested(type: ColumnType, own: ColumnType, key: Buffer | undefined): ((value: unknown) => string) | undefined {
  if (type.kind === 'struct') {
    if (own.kind !== 'struct') return () => 'null';
    const names = type.fields.map((f) => f.name);
    if (names.some((n) => UNORDERED_NAME.test(n)) || new Set(names).size !== names.length) return undefined;
    const parts: { prefix: string; property: string | undefined; write: (v: unknown) => string }[] = [];
    for (const [i, f] of type.fields.entries()) {
      const mine = own.fields.find((o) => o.name === f.name);
      const prefix = `${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`;
      if (mine === undefined || mine.property === undefined) {
        parts.push({ prefix, property: undefined, write: () => 'null' });
      } else if (mine.pii) {
        const treatment = mine.pii;
        parts.push({ prefix, property: mine.property, write: (v) => JSON.stringify(protect(v, treatment, key)) });
      } else {
        const inner = compileNested(f.type, mine.type, key);
        if (inner === undefined) return undefined;
        parts.push({ prefix, property: mine.property, write: (v) => (v === null || v === undefined ? 'null' : inner(v)) });
      }
    }
    if (parts.length === 0) return (value) => (typeof value !== 'object' || value === null || Array.isArray(value) ? 'null' : '{}');
    return (value) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'null';
      const source = value as Record<string, unknown>;
      let text = '';
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i]!;
        text += p.prefix + (p.property === undefined ? 'null' : p.write(source[p.property]));
      }
      return text + '}';
    };
  }
  if (type.kind === 'list') {
    if (own.kind !== 'list') return () => 'null';
    const item = compileNested(type.item, own.item, key);
    if (item === undefined) return undefined;
    return (value) => {
      if (!Array.isArray(value)) return 'null';
      let text = '[';
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        text += (i === 0 ? '' : ',') + (v === null || v === undefined ? 'null' : item(v));
      }
      return text + ']';
    };
  }
  return (value) => JSON.stringify(value);
}
