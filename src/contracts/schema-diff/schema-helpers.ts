import { type Obj, type Combinator, ANNOTATIONS, GROUPS } from './context.js';
import { type JsonSchema } from './kinds.js';

/** The JSON types a schema's `type` keyword allows, or `undefined` when it has none. */
export function typesOf(s: Obj): Set<string> | undefined {
  if (typeof s.type === 'string') return new Set([s.type]);
  if (Array.isArray(s.type)) return new Set(s.type.filter((t): t is string => typeof t === 'string'));
  return undefined;
}

/** Whether a value of one of `group`'s types may pass a `type` keyword with `types`. */
export function canBe(types: Set<string> | undefined, group: keyof typeof GROUPS): boolean {
  return types === undefined || GROUPS[group].some((t) => types.has(t));
}

/** Whether a value of JSON type `t` passes a `type` keyword with `types` (integers are numbers). */
export function covers(types: Set<string> | undefined, t: string): boolean {
  return types === undefined || types.has(t) || (t === 'integer' && types.has('number'));
}

/** `types` as words for a message. */
export function typeText(types: Set<string> | undefined): string {
  return types === undefined ? 'any type' : [...types].sort().join(' or ') || 'no type';
}

/** Whether `v` is a JSON object (not an array, not null). */
export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The subschemas of combinator `k`, or none. */
export function subschemas(s: Obj, k: Combinator): unknown[] {
  return Array.isArray(s[k]) ? (s[k] as unknown[]) : [];
}

/** `s` without keyword `k`. */
export function omit(s: Obj, k: string): Obj {
  const rest: Record<string, unknown> = { ...s };
  delete rest[k];
  return rest;
}

/** The strings of an array keyword such as `required`. */
export function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Whether the schema gives a `default`. */
export function hasDefault(s: unknown): boolean {
  return isObject(s) && 'default' in s;
}

/** `true`, or an object with nothing but annotations: it accepts every value. */
export function isEmptySchema(s: unknown): boolean {
  return s === true || (isObject(s) && Object.keys(s).every((k) => ANNOTATIONS.has(k)));
}

/** RFC 6901 escaping of one pointer segment. */
export function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** `n word` with an English plural. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Follows local `$ref`s (`#/...` JSON pointers); draft-07 ignores a `$ref`'s sibling keywords. */
export function resolve(s: unknown, root: JsonSchema): unknown {
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
/** A stable number for an object, to key the pairs being compared. */
export function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = ++nextId));
  return id;
}

/** Structural equality of JSON values; object key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
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
export function sameSchema(a: unknown, b: unknown): boolean {
  return deepEqual(a, b) && !JSON.stringify(a).includes('"$ref"');
}

/** The list without structurally equal repeats, first occurrences kept. */
export function dedupe(list: readonly unknown[]): unknown[] {
  return list.filter((s, i) => list.findIndex((t) => deepEqual(s, t)) === i);
}

/**
 * Everything a value must meet under both schemas, as one schema, for the *writer* side only: it
 * may accept more than the two together (conflicting keywords keep one side), never less, so a
 * compatibility verdict drawn from it stays safe.
 */
export function mergeWriter(a0: unknown, b0: unknown): JsonSchema {
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
