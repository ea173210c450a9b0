import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contractChangelogCommand } from '../../src/cli/commands/contract-changelog.js';
import { contractChangelog } from '../../src/contracts/changelog.js';
import { loadContractDir } from '../../src/contracts/load.js';
import { parseContract } from '../../src/contracts/load.js';

const EXAMPLE = readFileSync('examples/orders/contracts/order-placed.v1.yaml', 'utf8');
const v1 = parseContract(EXAMPLE, 'order-placed.v1.yaml');
// 1.1.0 makes an optional property required: data written under 1.0.0 without it no longer reads (BACKWARD break).
const v11 = parseContract(
  EXAMPLE.replace('version: 1.0.0', 'version: 1.1.0').replace(
    'logicalTypeOptions: { format: email }\n        classification: pii',
    'logicalTypeOptions: { format: email }\n        required: true\n        classification: pii',
  ),
  'order-placed.v1.1.yaml',
);

describe('contractChangelog', () => {
  it('lists versions newest first with their differences, and the first version with its properties', async () => {
    const md = contractChangelog(await loadContractDir('test/warehouse/contracts'));
    expect(md.indexOf('### 1.1.0')).toBeLessThan(md.indexOf('### 1.0.0'));
    expect(md).toContain('mode BACKWARD: compatible with 1.0.0');
    expect(md).toContain("- `/service`: optional property 'service' added");
    expect(md).toMatch(/- first version: `shipmentId` \(string, required\), `carrier` \(string, required\)/);
  });

  it('marks an incompatible version with each finding', () => {
    expect(v11.properties.find((p) => p.name === 'customerEmail')?.required).toBe(true);
    const md = contractChangelog([v1, v11]);
    expect(md).toContain('**incompatible** (2 findings)');
    expect(md).toContain(
      "- **breaks**: version 1.1.0 of 'orders.order-placed' breaks BACKWARD against 1.0.0: /customerEmail: property 'customerEmail' became required",
    );
    // Listed once, as a finding, not again as a difference.
    expect(md.split("property 'customerEmail' became required")).toHaveLength(2);
  });

  it('with a base, lists only what changed since it', () => {
    const md = contractChangelog([v1, v11], { base: { ref: 'origin/main', contracts: [v1] } });
    expect(md).toContain('# Contract changelog since `origin/main`');
    expect(md).toContain('### 1.1.0 (new)');
    expect(md).not.toContain('### 1.0.0');
    expect(contractChangelog([v1], { base: { ref: 'v1', contracts: [v1] } })).toContain('No contract version changed since `v1`.');
  });
});

describe('herald contract changelog', () => {
  it('writes the Markdown to --out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'herald-changelog-'));
    try {
      const out = join(dir, 'CHANGELOG.md');
      const md = await contractChangelogCommand({ contracts: 'test/warehouse/contracts', out });
      expect(await readFile(out, 'utf8')).toBe(md);
      expect(md).toContain('## test.shipment-sent');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
