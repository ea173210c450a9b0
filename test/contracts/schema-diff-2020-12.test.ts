import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { diffSchemas, type DifferenceKind, type JsonSchema } from '../../src/contracts/schema-diff.js';

/**
 * Draft 2020-12 keywords in the differ. Each case states the verdict from the rules, and is
 * checked against Ajv's own 2020-12 validator on sample values: a compatible verdict must hold
 * for every sample the earlier schema accepts, and a break must be shown by one of them — so a
 * verdict that is wrong in either direction fails here, not only a changed kind.
 */
interface Case {
  readonly rule: string;
  readonly previous: JsonSchema;
  readonly next: JsonSchema;
  /** Whether data valid under `previous` stays valid under `next`. */
  readonly backward: boolean;
  /** Whether data valid under `next` is valid under `previous`. */
  readonly forward: boolean;
  /** A kind diffSchemas(previous, next) reports, and its schema path. */
  readonly kind?: DifferenceKind;
  readonly schemaPath?: string;
  readonly samples: readonly unknown[];
}

const ajv = new Ajv2020({ strict: false, allErrors: false });

const cases: Case[] = [
  {
    rule: 'a position added to an open prefixItems tuple breaks backward, at prefixItems/1',
    previous: { type: 'array', prefixItems: [{ type: 'string' }] },
    next: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }] },
    backward: false,
    forward: true,
    kind: 'ITEM_ADDED_TO_OPEN_CONTENT_MODEL',
    schemaPath: '#/prefixItems/1',
    samples: [['a', 'b'], ['a', 1], ['a']],
  },
  {
    rule: 'a position added to a prefixItems tuple closed by items: false is backward compatible',
    previous: { type: 'array', prefixItems: [{ type: 'string' }], items: false },
    next: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
    backward: true,
    forward: false,
    kind: 'ITEM_ADDED_TO_CLOSED_CONTENT_MODEL',
    schemaPath: '#/prefixItems/1',
    samples: [['a'], ['a', 1], []],
  },
  {
    rule: 'items after prefixItems opened from false is backward compatible, named items',
    previous: { type: 'array', prefixItems: [{ type: 'string' }], items: false },
    next: { type: 'array', prefixItems: [{ type: 'string' }] },
    backward: true,
    forward: false,
    kind: 'ADDITIONAL_ITEMS_ADDED',
    schemaPath: '#/items',
    samples: [['a'], ['a', 1]],
  },
  {
    rule: 'minContains raised breaks backward',
    previous: { type: 'array', contains: { type: 'integer' }, minContains: 1 },
    next: { type: 'array', contains: { type: 'integer' }, minContains: 2 },
    backward: false,
    forward: true,
    kind: 'MIN_CONTAINS_INCREASED',
    schemaPath: '#/minContains',
    samples: [[1], [1, 2], ['a']],
  },
  {
    rule: 'maxContains raised is backward compatible',
    previous: { type: 'array', contains: { type: 'integer' }, maxContains: 1 },
    next: { type: 'array', contains: { type: 'integer' }, maxContains: 3 },
    backward: true,
    forward: false,
    kind: 'MAX_CONTAINS_INCREASED',
    samples: [[1], [1, 2], [1, 2, 3, 4]],
  },
  {
    rule: 'contains added breaks backward; removed is fine',
    previous: { type: 'array' },
    next: { type: 'array', contains: { const: 'x' } },
    backward: false,
    forward: true,
    kind: 'CONTAINS_ADDED',
    samples: [[], ['x'], ['y']],
  },
  {
    rule: 'contains widened is backward compatible without maxContains',
    previous: { type: 'array', contains: { type: 'integer' } },
    next: { type: 'array', contains: { type: 'number' } },
    backward: true,
    forward: false,
    kind: 'CONTAINS_EXTENDED',
    samples: [[1], [1.5], ['a']],
  },
  {
    rule: 'contains widened under maxContains can exceed it: a break',
    previous: { type: 'array', contains: { type: 'integer' }, maxContains: 1 },
    next: { type: 'array', contains: { type: 'number' }, maxContains: 1 },
    backward: false,
    forward: false,
    kind: 'CONTAINS_CHANGED',
    samples: [[1, 1.5], [1], [1.5], [2.5, 1.5, 3]],
  },
  {
    rule: 'dependentRequired extended breaks backward, at dependentRequired/card',
    previous: { type: 'object', dependentRequired: { card: ['cvc'] } },
    next: { type: 'object', dependentRequired: { card: ['cvc', 'expiry'] } },
    backward: false,
    forward: true,
    kind: 'DEPENDENCY_ARRAY_EXTENDED',
    schemaPath: '#/dependentRequired/card',
    samples: [{ card: 1, cvc: 2 }, { card: 1, cvc: 2, expiry: 3 }, {}],
  },
  {
    rule: 'draft-07 dependencies rewritten as dependentRequired is no change',
    previous: { type: 'object', dependencies: { card: ['cvc'] } },
    next: { type: 'object', dependentRequired: { card: ['cvc'] } },
    backward: true,
    forward: true,
    samples: [{ card: 1, cvc: 2 }, { card: 1 }, {}],
  },
  {
    rule: 'a dependentSchemas entry added breaks backward',
    previous: { type: 'object' },
    next: { type: 'object', dependentSchemas: { card: { required: ['cvc'] } } },
    backward: false,
    forward: true,
    kind: 'DEPENDENCY_SCHEMA_ADDED',
    schemaPath: '#/dependentSchemas/card',
    samples: [{ card: 1 }, { card: 1, cvc: 2 }, {}],
  },
  {
    rule: 'a dependentSchemas schema narrowed breaks backward, inside it',
    previous: { type: 'object', dependentSchemas: { card: { properties: { cvc: { type: 'number' } } } } },
    next: { type: 'object', dependentSchemas: { card: { properties: { cvc: { type: 'integer' } } } } },
    backward: false,
    forward: true,
    kind: 'TYPE_NARROWED',
    schemaPath: '#/dependentSchemas/card/properties/cvc/type',
    samples: [{ card: 1, cvc: 1.5 }, { card: 1, cvc: 2 }, { cvc: 1.5 }],
  },
  {
    rule: 'unevaluatedProperties: false without applicators is a closed object: adding an optional property is backward compatible',
    previous: { type: 'object', properties: { id: { type: 'string' } }, unevaluatedProperties: false },
    next: { type: 'object', properties: { id: { type: 'string' }, note: { type: 'string' } }, unevaluatedProperties: false },
    backward: true,
    forward: false,
    kind: 'OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL',
    samples: [{ id: 'a' }, { id: 'a', note: 'n' }, {}],
  },
  {
    rule: 'unevaluatedProperties: false added without applicators breaks backward',
    previous: { type: 'object', properties: { id: { type: 'string' } } },
    next: { type: 'object', properties: { id: { type: 'string' } }, unevaluatedProperties: false },
    backward: false,
    forward: true,
    kind: 'ADDITIONAL_PROPERTIES_REMOVED',
    samples: [{ id: 'a' }, { id: 'a', other: 1 }],
  },
  {
    rule: 'beside allOf, changing which properties a subschema evaluates is a break under unevaluatedProperties: false',
    previous: { type: 'object', allOf: [{ properties: { id: { type: 'string' } } }], unevaluatedProperties: false },
    next: { type: 'object', allOf: [{ properties: { note: { type: 'string' } } }], unevaluatedProperties: false },
    backward: false,
    forward: false,
    kind: 'UNEVALUATED_PROPERTIES_SCOPE_CHANGED',
    schemaPath: '#/unevaluatedProperties',
    samples: [{ id: 'a' }, { note: 'x' }, {}],
  },
  {
    rule: 'beside allOf, unevaluatedProperties relaxed from false is backward compatible',
    previous: { type: 'object', allOf: [{ properties: { id: { type: 'string' } } }], unevaluatedProperties: false },
    next: { type: 'object', allOf: [{ properties: { id: { type: 'string' } } }] },
    backward: true,
    forward: false,
    kind: 'UNEVALUATED_PROPERTIES_EXTENDED',
    samples: [{ id: 'a' }, { id: 'a', x: 1 }],
  },
  {
    rule: 'beside allOf, unevaluatedProperties: false added breaks backward',
    previous: { type: 'object', allOf: [{ properties: { id: { type: 'string' } } }] },
    next: { type: 'object', allOf: [{ properties: { id: { type: 'string' } } }], unevaluatedProperties: false },
    backward: false,
    forward: true,
    kind: 'UNEVALUATED_PROPERTIES_NARROWED',
    samples: [{ id: 'a' }, { id: 'a', x: 1 }],
  },
  {
    rule: 'unevaluatedItems: false after a prefixItems tuple closes it like items: false',
    previous: { type: 'array', prefixItems: [{ type: 'string' }] },
    next: { type: 'array', prefixItems: [{ type: 'string' }], unevaluatedItems: false },
    backward: false,
    forward: true,
    kind: 'ADDITIONAL_ITEMS_REMOVED',
    schemaPath: '#/unevaluatedItems',
    samples: [['a'], ['a', 'b']],
  },
  {
    rule: 'beside allOf, unevaluatedItems narrowed breaks backward',
    previous: { type: 'array', allOf: [{ prefixItems: [{ type: 'string' }] }] },
    next: { type: 'array', allOf: [{ prefixItems: [{ type: 'string' }] }], unevaluatedItems: { type: 'string' } },
    backward: false,
    forward: true,
    kind: 'UNEVALUATED_ITEMS_NARROWED',
    samples: [['a'], ['a', 1]],
  },
];

function accepts(schema: JsonSchema, value: unknown): boolean {
  return ajv.validate(schema as object, value) as boolean;
}

/** The verdict the samples show: `undefined` when they show no break, else a sample that breaks. */
function breakingSample(writer: JsonSchema, reader: JsonSchema, samples: readonly unknown[]): unknown {
  return samples.find((v) => accepts(writer, v) && !accepts(reader, v));
}

describe('draft 2020-12 keywords in the differ', () => {
  for (const c of cases) {
    it(c.rule, () => {
      const backward = diffSchemas(c.previous, c.next);
      const forward = diffSchemas(c.next, c.previous);
      expect({ backward: backward.every((d) => d.compatible), forward: forward.every((d) => d.compatible) }).toEqual({
        backward: c.backward,
        forward: c.forward,
      });
      // The stated verdicts agree with a real 2020-12 validator on the samples.
      expect(breakingSample(c.previous, c.next, c.samples) === undefined, 'backward, by Ajv').toBe(c.backward);
      expect(breakingSample(c.next, c.previous, c.samples) === undefined, 'forward, by Ajv').toBe(c.forward);
      if (c.kind !== undefined) {
        const found = backward.find((d) => d.kind === c.kind);
        expect(found, `${c.kind} in ${JSON.stringify(backward.map((d) => [d.kind, d.schemaPath]))}`).toBeDefined();
        if (c.schemaPath !== undefined) expect(found!.schemaPath).toBe(c.schemaPath);
      }
      // Modelled keywords never fall back to the generic keyword change.
      expect([...backward, ...forward].map((d) => d.kind)).not.toContain('KEYWORD_CHANGED');
      expect([...backward, ...forward].map((d) => d.kind)).not.toContain('KEYWORD_ADDED');
    });
  }
});
