import { type Obj, type Ctx, child, trial, add, allCompatible } from './context.js';
import { bound } from './scalars.js';
import { isObject, stringList, hasDefault, isEmptySchema, escape } from './schema-helpers.js';
import { walk } from './walk.js';

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

/** Whether `name` matches the `patternProperties` key `pattern`; an invalid pattern matches nothing. */
export function matches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(name);
  } catch {
    return false;
  }
}

/** Compares the object keywords: properties and `required`, pattern/additional properties, property counts, dependencies. */
export function objects(w: Obj, r: Obj, ctx: Ctx): void {
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

/**
 * The dependencies of an object schema by property: the names its presence requires (draft-07
 * `dependencies` with a list, 2020-12 `dependentRequired`) and the schema it imposes (`dependencies`
 * with a schema, 2020-12 `dependentSchemas`), each with the keyword it came from.
 */
function dependencyModel(s: Obj): Map<string, { names?: string[]; namesKeyword: string; schema?: unknown; schemaKeyword: string }> {
  const out = new Map<string, { names?: string[]; namesKeyword: string; schema?: unknown; schemaKeyword: string }>();
  const entry = (n: string) => {
    let e = out.get(n);
    if (e === undefined) out.set(n, (e = { namesKeyword: 'dependencies', schemaKeyword: 'dependencies' }));
    return e;
  };
  for (const [n, v] of Object.entries(isObject(s.dependencies) ? s.dependencies : {})) {
    if (Array.isArray(v)) entry(n).names = stringList(v);
    else entry(n).schema = v;
  }
  for (const [n, v] of Object.entries(isObject(s.dependentRequired) ? s.dependentRequired : {})) {
    const e = entry(n);
    e.names = [...new Set([...(e.names ?? []), ...stringList(v)])];
    e.namesKeyword = 'dependentRequired';
  }
  for (const [n, v] of Object.entries(isObject(s.dependentSchemas) ? s.dependentSchemas : {})) {
    const e = entry(n);
    // Both keywords apply when both are given.
    e.schema = e.schema === undefined ? v : { allOf: [e.schema, v] };
    e.schemaKeyword = 'dependentSchemas';
  }
  return out;
}

function dependencies(w: Obj, r: Obj, ctx: Ctx): void {
  const wd = dependencyModel(w);
  const rd = dependencyModel(r);
  for (const n of new Set([...wd.keys(), ...rd.keys()])) {
    const [a, b] = [wd.get(n), rd.get(n)];
    const namesAt = child(ctx, null, `${(b?.names !== undefined ? b : a)?.namesKeyword ?? 'dependencies'}/${escape(n)}`);
    const what = `properties required with '${n}'`;
    const [an, bn] = [a?.names, b?.names];
    if (an !== undefined || bn !== undefined) {
      if (bn === undefined) add(namesAt, 'DEPENDENCY_ARRAY_REMOVED', `${what} removed`, `${what} added`);
      else if (an === undefined) add(namesAt, 'DEPENDENCY_ARRAY_ADDED', `${what} added`, `${what} removed`);
      else {
        const sa = new Set(an);
        const sb = new Set(bn);
        const bHasA = [...sa].every((x) => sb.has(x));
        const aHasB = [...sb].every((x) => sa.has(x));
        if (bHasA && !aHasB) add(namesAt, 'DEPENDENCY_ARRAY_EXTENDED', `${what} extended`, `${what} reduced`);
        else if (aHasB && !bHasA) add(namesAt, 'DEPENDENCY_ARRAY_NARROWED', `${what} reduced`, `${what} extended`);
        else if (!bHasA && !aHasB) add(namesAt, 'DEPENDENCY_ARRAY_CHANGED', `${what} changed`);
      }
    }
    const [as, bs] = [a?.schema, b?.schema];
    const schemaAt = child(ctx, null, `${(bs !== undefined ? b : a)?.schemaKeyword ?? 'dependencies'}/${escape(n)}`);
    if (as !== undefined && bs !== undefined) walk(as, bs, schemaAt);
    else if (as !== undefined)
      add(
        schemaAt,
        'DEPENDENCY_SCHEMA_REMOVED',
        `schema dependency of property '${n}' removed`,
        `schema dependency of property '${n}' added`,
      );
    else if (bs !== undefined)
      add(
        schemaAt,
        'DEPENDENCY_SCHEMA_ADDED',
        `schema dependency of property '${n}' added`,
        `schema dependency of property '${n}' removed`,
      );
  }
}
