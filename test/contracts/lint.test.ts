import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintContractDir } from '../../src/contracts/lint.js';

const GOOD = await readFile('examples/orders/contracts/order-placed.v1.yaml', 'utf8');

/** Lints a directory holding `files` (name → text); returns the issues as `file-name:line: message`. */
async function lint(files: Record<string, string>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-lint-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const report = await lintContractDir(dir);
  return report.issues.map((i) => `${i.file.split('/').at(-1)}:${i.line}: ${i.message}`);
}

/** The line (1-based) of the first occurrence of `needle` in `text`. */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  if (at < 0) throw new Error(`'${needle}' not in the text`);
  return text.slice(0, at).split('\n').length;
}

describe('herald contract lint', () => {
  it('finds nothing wrong with the example contract', async () => {
    expect(await lint({ 'ok.yaml': GOOD })).toEqual([]);
  });

  const cases: [string, (t: string) => string, string, RegExp][] = [
    ['a YAML syntax error', (t) => t.replace('status: active', 'status: active: yes'), 'status: active: yes', /yaml syntax/],
    [
      'a field ODCS does not know',
      (t) => t.replace('status: active', 'status: active\nowner: nobody'),
      'owner: nobody',
      /does not follow ODCS v3\.1\.0.*'owner'/,
    ],
    [
      'a logicalType ODCS does not know',
      (t) => t.replace('logicalType: timestamp', 'logicalType: datetime'),
      'logicalType: datetime',
      /does not follow ODCS/,
    ],
    [
      'an id with capitals',
      (t) => t.replace('id: orders.order-placed', 'id: Orders.OrderPlaced'),
      'id: Orders',
      /id 'Orders\.OrderPlaced' must be lowercase/,
    ],
    [
      'a version that is not semver',
      (t) => t.replace('version: 1.0.0', 'version: v1'),
      'version: v1',
      /version 'v1' must be a semantic version/,
    ],
    [
      'a partition key that is not a property',
      (t) => t.replace('value: customerId', 'value: shopId'),
      'value: shopId',
      /partition key 'shopId' is not a top-level property/,
    ],
    [
      'a partition key that is optional',
      (t) =>
        t.replace(
          '        logicalType: string\n        required: true\n        logicalTypeOptions: { minLength: 1, maxLength: 64 }',
          '        logicalType: string\n        logicalTypeOptions: { minLength: 1, maxLength: 64 }',
        ),
      '- name: customerId',
      /partition key 'customerId' must be a required string or integer property/,
    ],
    [
      'an unknown compatibility mode',
      (t) => t.replace('value: BACKWARD', 'value: SIDEWAYS'),
      'value: SIDEWAYS',
      /compatibility 'SIDEWAYS' must be one of BACKWARD/,
    ],
    [
      'a property declared twice',
      (t) => t.replace('      - name: currency', '      - name: total'),
      '- name: total\n        logicalType: string',
      /property 'total' is declared twice/,
    ],
    [
      'a topic with a space',
      (t) => t.replace('value: orders.order-placed.v1', "value: 'orders placed'"),
      "value: 'orders placed'",
      /topic 'orders placed' must be/,
    ],
    [
      'an example that breaks its property',
      (t) => t.replace("examples: ['EUR']", "examples: ['euro']"),
      "examples: ['euro']",
      /example 1 of property 'currency' does not match its schema: must match pattern/,
    ],
    [
      'a nested example that breaks its property',
      (t) =>
        t.replace(
          '              logicalType: string\n              required: true\n',
          '              logicalType: string\n              required: true\n              examples: [42]\n',
        ),
      'examples: [42]',
      /example 1 of property 'lines\[\]\.sku' does not match its schema: must be string/,
    ],
    [
      'an unknown piiTreatment',
      (t) => t.replace('value: mask', 'value: scramble'),
      '- name: customerEmail',
      /property 'customerEmail' has piiTreatment 'scramble'/,
    ],
  ];
  for (const [what, edit, at, message] of cases) {
    it(`reports ${what}, with its file and line`, async () => {
      const text = edit(GOOD);
      expect(text, 'the edit applies').not.toBe(GOOD);
      const issues = await lint({ 'order.yaml': text });
      expect(issues).toHaveLength(1);
      const line = lineOf(text, at);
      expect(issues[0]).toMatch(new RegExp(`^order\\.yaml:${line}: `));
      expect(issues[0]).toMatch(message);
    });
  }

  it('reports every broken file, not only the first, and a version declared twice', async () => {
    const issues = await lint({
      'a.yaml': GOOD,
      'b.yaml': GOOD,
      'c.yaml': GOOD.replace('version: 1.0.0', 'version: x'),
      'd.yaml': GOOD.replace('id: orders.order-placed', 'id: Bad'),
    });
    expect(issues).toEqual([
      expect.stringMatching(/^c\.yaml:\d+: version 'x'/),
      expect.stringMatching(/^d\.yaml:\d+: id 'Bad'/),
      expect.stringMatching(/version 1\.0\.0 is declared twice/),
    ]);
  });
});
