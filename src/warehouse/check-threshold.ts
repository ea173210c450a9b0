import type { OdcsQualityRule } from '../contracts/contract.js';

/** The ODCS comparison operators of a library quality rule, in the order the standard lists them. */
export const ThresholdOperators = [
  'mustBe',
  'mustNotBe',
  'mustBeGreaterThan',
  'mustBeGreaterOrEqualTo',
  'mustBeLessThan',
  'mustBeLessOrEqualTo',
  'mustBeBetween',
  'mustNotBeBetween',
] as const;

/** One of {@link ThresholdOperators}. */
export type ThresholdOperator = (typeof ThresholdOperators)[number];

/**
 * What a measured value must satisfy: one ODCS operator and its number (or `[low, high]` for the
 * two `between` forms, both ends included, as in SQL's `BETWEEN`).
 */
export type Threshold =
  | { readonly op: Exclude<ThresholdOperator, 'mustBeBetween' | 'mustNotBeBetween'>; readonly value: number }
  | { readonly op: 'mustBeBetween' | 'mustNotBeBetween'; readonly value: readonly [number, number] };

/** The threshold of the checks ODCS states without numbers (`required`, `unique`, ranges): none may fail. */
export const NONE_MAY_FAIL: Threshold = { op: 'mustBe', value: 0 };

/**
 * The threshold of a quality rule: its one operator with a numeric value. Returns a reason
 * instead when the rule has no operator, more than one, or a value that is not a number (ODCS
 * allows `mustBe: text` for other engines; Herald measures numbers only), so the caller can
 * report the rule as an error rather than guess.
 */
export function thresholdOf(rule: OdcsQualityRule): Threshold | { readonly invalid: string } {
  const present = ThresholdOperators.filter((op) => rule[op] !== undefined);
  if (present.length !== 1) {
    return {
      invalid:
        present.length === 0 ? 'the rule has no operator (mustBe, mustBeGreaterThan, …)' : `the rule has ${present.length} operators`,
    };
  }
  const op = present[0]!;
  const value = rule[op];
  if (op === 'mustBeBetween' || op === 'mustNotBeBetween') {
    const pair = value as readonly unknown[];
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      return { invalid: `${op} must be two numbers, smallest first` };
    }
    const [low, high] = pair as [number, number];
    return { op, value: low <= high ? [low, high] : [high, low] };
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return { invalid: `${op} must be a number, got ${JSON.stringify(value)}` };
  return { op, value };
}

/** True when `observed` satisfies `t`. */
export function satisfies(observed: number, t: Threshold): boolean {
  switch (t.op) {
    case 'mustBe':
      return observed === t.value;
    case 'mustNotBe':
      return observed !== t.value;
    case 'mustBeGreaterThan':
      return observed > t.value;
    case 'mustBeGreaterOrEqualTo':
      return observed >= t.value;
    case 'mustBeLessThan':
      return observed < t.value;
    case 'mustBeLessOrEqualTo':
      return observed <= t.value;
    case 'mustBeBetween':
      return observed >= t.value[0] && observed <= t.value[1];
    case 'mustNotBeBetween':
      return observed < t.value[0] || observed > t.value[1];
  }
}

const SYMBOL: Readonly<Record<Exclude<ThresholdOperator, 'mustBeBetween' | 'mustNotBeBetween'>, string>> = {
  mustBe: '=',
  mustNotBe: '!=',
  mustBeGreaterThan: '>',
  mustBeGreaterOrEqualTo: '>=',
  mustBeLessThan: '<',
  mustBeLessOrEqualTo: '<=',
};

/** The threshold as a person reads it, with its unit: `= 0 rows`, `> 10 rows`, `between 1 and 5 %`. */
export function describeThreshold(t: Threshold, unit: string): string {
  const suffix = unit === '' ? '' : ` ${unit}`;
  if (t.op === 'mustBeBetween') return `between ${t.value[0]} and ${t.value[1]}${suffix}`;
  if (t.op === 'mustNotBeBetween') return `not between ${t.value[0]} and ${t.value[1]}${suffix}`;
  return `${SYMBOL[t.op]} ${t.value}${suffix}`;
}
