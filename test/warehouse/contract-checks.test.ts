import { describe, expect, it } from 'vitest';
import { contractTestJunit } from '../../src/cli/junit.js';
import { parseContract } from '../../src/contracts/load.js';
import { checkSql } from '../../src/warehouse/check-sql.js';
import { describeThreshold, satisfies, thresholdOf } from '../../src/warehouse/check-threshold.js';
import { planChecks } from '../../src/warehouse/contract-checks.js';
import type { CheckResult } from '../../src/warehouse/contract-test.js';
import { planTables } from '../../src/warehouse/table-plan.js';

function contract(properties: string, extra = '', version = '1.0.0') {
  return parseContract(
    `apiVersion: v3.1.0
kind: DataContract
id: test.checks
name: Checks
version: ${version}
status: active
schema:
  - name: Checks
    logicalType: object
    properties:
      - name: id
        logicalType: string
        required: true
${properties}
${extra}
customProperties:
  - property: partitionKey
    value: id
`,
    `checks-${version}.yaml`,
  );
}

const plan = (...contracts: ReturnType<typeof contract>[]) => planTables(contracts, { piiKey: Buffer.alloc(32) })[0]!;

describe('planning the checks of a contract table', () => {
  it('always checks that the table exists and that the event id is unique', () => {
    const checks = planChecks(plan(contract('')));
    expect(checks.slice(0, 2).map((c) => [c.check, c.column])).toEqual([
      ['table_exists', undefined],
      ['unique', '_event_id'],
    ]);
  });

  it('does not check the values of personal data beyond presence, and has no column for dropped data', () => {
    const checks = planChecks(
      plan(
        contract(`      - name: email
        logicalType: string
        required: true
        unique: true
        classification: pii
        logicalTypeOptions: { maxLength: 3 }
        quality:
          - metric: invalidValues
            arguments: { validValues: [a] }
            mustBe: 0
      - name: nick
        logicalType: string
        required: true
        unique: true
        classification: pii
        customProperties: [{ property: piiTreatment, value: mask }]
      - name: phone
        logicalType: string
        required: true
        classification: pii
        customProperties: [{ property: piiTreatment, value: drop }]`),
      ),
    );
    expect(checks.filter((c) => c.column === 'email').map((c) => c.check)).toEqual(['not_null', 'unique']);
    // A masked value keeps a few characters only, so equal masks do not mean equal values.
    expect(checks.filter((c) => c.column === 'nick').map((c) => c.check)).toEqual(['not_null']);
    expect(checks.some((c) => c.column === 'phone')).toBe(false);
  });

  it('scopes a rule to the versions that declare it, and drops the scope when all do', () => {
    const v1 = contract('      - name: note\n        logicalType: string');
    const v2 = contract('      - name: note\n        logicalType: string\n        required: true', '', '2.0.0');
    const checks = planChecks(plan(v1, v2));
    expect(checks.find((c) => c.check === 'not_null' && c.column === 'note')!.versions).toEqual(['2.0.0']);
    expect(checks.find((c) => c.check === 'not_null' && c.column === 'id')!.versions).toBeUndefined();
  });

  it('reads freshness and latency SLAs in seconds and reports a unit it does not know', () => {
    const sla = (unit: string, property = 'freshness', value: unknown = 2) =>
      planChecks(
        plan(contract('', `slaProperties:\n  - property: ${property}\n    value: ${JSON.stringify(value)}\n    unit: ${unit}`)),
      ).at(-1)!;
    expect(sla('h').threshold).toEqual({ op: 'mustBeLessOrEqualTo', value: 7200 });
    expect(sla('minutes', 'latency').threshold).toEqual({ op: 'mustBeLessOrEqualTo', value: 120 });
    expect(sla('d').check).toBe('freshness');
    expect(sla('fortnight').threshold).toEqual({ invalid: "slaProperties freshness has unit 'fortnight'; use s, m, h or d" });
    expect(sla('s', 'freshness', 'soon').threshold).toEqual({ invalid: 'slaProperties freshness needs a numeric value, got "soon"' });
  });

  it('keeps a rule it cannot run as a check that says why, and skips text rules', () => {
    const checks = planChecks(
      plan(
        contract(
          `      - name: note
        logicalType: string
        quality:
          - type: text
            description: notes are polite`,
          `    quality:\n      - type: custom\n        engine: soda\n        implementation: x`,
        ),
      ),
    );
    expect(checks.filter((c) => c.column === 'note')).toEqual([]);
    expect(checks.at(-1)).toMatchObject({
      check: 'quality_rule',
      threshold: { invalid: 'herald contract test does not run custom rules' },
    });
  });
});

describe('thresholds', () => {
  it('reads exactly one ODCS operator and compares like SQL (between includes both ends)', () => {
    expect(thresholdOf({ mustBeBetween: [5, 1] })).toEqual({ op: 'mustBeBetween', value: [1, 5] });
    expect(thresholdOf({})).toEqual({ invalid: 'the rule has no operator (mustBe, mustBeGreaterThan, …)' });
    expect(thresholdOf({ mustBe: 0, mustBeLessThan: 1 })).toEqual({ invalid: 'the rule has 2 operators' });
    expect(thresholdOf({ mustBe: 'x' })).toEqual({ invalid: 'mustBe must be a number, got "x"' });
    expect(satisfies(5, { op: 'mustBeBetween', value: [1, 5] })).toBe(true);
    expect(satisfies(5, { op: 'mustNotBeBetween', value: [1, 5] })).toBe(false);
    expect(satisfies(3, { op: 'mustBeGreaterThan', value: 3 })).toBe(false);
    expect(describeThreshold({ op: 'mustNotBe', value: 0 }, 'rows')).toBe('!= 0 rows');
  });
});

describe('check SQL', () => {
  it('quotes identifiers and contract literals, and qualifies the table with its PostgreSQL schema', () => {
    const [check] = planChecks(
      plan(
        contract(`      - name: order
        logicalType: string
        quality:
          - metric: invalidValues
            arguments: { validValues: ["it's", 'x"; DROP TABLE t; --'] }
            mustBe: 0`),
      ),
    ).filter((c) => c.check === 'valid_values');
    const sql = checkSql(check!, { dialect: 'postgres', schema: 'analytics' });
    expect(sql).toBe(
      `SELECT count(*) AS n, count(*) FILTER (WHERE "order" IS NOT NULL AND CAST("order" AS text) NOT IN ('it''s', 'x"; DROP TABLE t; --')) AS v FROM "analytics"."test_checks"`,
    );
  });
});

describe('the JUnit report', () => {
  const result = (over: Partial<CheckResult>): CheckResult => ({
    contract: 'c.one',
    table: 't',
    check: 'not_null',
    column: 'a',
    status: 'pass',
    observed: 0,
    expected: '= 0 rows',
    unit: 'rows',
    message: 'ok',
    ...over,
  });

  it('escapes markup and drops characters XML cannot carry', () => {
    const xml = contractTestJunit(
      [result({ status: 'fail', contract: 'a&b', message: `<x> "q" 'a' & \u0001done\nnext` }), result({ status: 'error', check: 'range' })],
      new Date('2026-12-07T09:00:00Z'),
    );
    expect(xml).toContain('<testsuite name="a&amp;b" tests="1" failures="1" errors="0" skipped="0" timestamp="2026-12-07T09:00:00">');
    expect(xml).toContain(`<failure message="&lt;x&gt; &quot;q&quot; &apos;a&apos; &amp; done&#10;next" type="not_null">`);
    expect(xml).toContain('<error message="ok" type="range">');
    expect(xml).not.toContain('\u0001');
    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="herald contract test" tests="2" failures="1" errors="1">/,
    );
  });
});
