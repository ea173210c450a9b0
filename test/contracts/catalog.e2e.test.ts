import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, watch } from '../support/chromium.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contractDocsCommand } from '../../src/cli/commands/contract-docs.js';
import { renderCatalog, type CatalogHistoryEntry } from '../../src/contracts/catalog.js';
import type { Contract } from '../../src/contracts/contract.js';
import { loadContractDir, parseContract } from '../../src/contracts/load.js';

// Debian's Chromium, driven by playwright-core (which never downloads a browser of its own).
// scripts/services.sh installs it; the flags keep Chromium off the network it cannot reach.
const TITLE = 'Herald contract catalog (test)';

// A contract whose texts try to inject markup and script; the catalog must show them as text.
const HOSTILE = `
apiVersion: v3.1.0
kind: DataContract
id: test.hostile-text
name: 'Hostile <i>name</i>'
version: 1.0.0
status: draft
team:
  name: 'red <team>'
description:
  purpose: '<script>window.__catalogPwned = true; document.title = "pwned";</script> Text & "quotes" stay text.'
schema:
  - name: Hostile
    logicalType: object
    properties:
      - name: key
        logicalType: string
        required: true
        description: '<img src="/x.png" onerror="window.__catalogPwned = true">'
        examples: ['</code></pre><script>window.__catalogPwned = true</script>']
customProperties:
  - property: partitionKey
    value: key
`;

// What the contract files classify as personal, and how the loader treats it: the test's own
// oracle, written from the YAML rather than computed with the code under test.
const PERSONAL: Record<string, Record<string, string>> = {
  'orders.order-placed': { customerEmail: 'mask' },
  'test.shipment-sent': {
    'recipient.name': 'mask',
    'recipient.email': 'hash',
    'recipient.birthYear': 'drop',
    phone: 'drop',
    aliases: 'hash',
  },
  'test.hostile-text': {},
};

const HISTORY = new Map<string, readonly CatalogHistoryEntry[]>([
  ['orders.order-placed', [{ version: '1.0.0', mode: 'BACKWARD', comparedWith: [], verdict: 'compatible', findings: [] }]],
  [
    'test.shipment-sent',
    [
      {
        version: '1.1.0',
        mode: 'BACKWARD',
        comparedWith: ['1.0.0'],
        verdict: 'breaks',
        findings: ['<b>recipient.country</b> was added as required'],
      },
    ],
  ],
]);

async function allContracts(): Promise<Contract[]> {
  return [
    ...(await loadContractDir('examples/orders/contracts')),
    ...(await loadContractDir('test/warehouse/contracts')),
    parseContract(HOSTILE, 'hostile.yaml'),
  ];
}

describe('renderCatalog', () => {
  it('escapes every text from a contract file, so the page has only its own script', async () => {
    const html = renderCatalog(await allContracts(), { title: TITLE });
    expect(html).toContain('&lt;script&gt;window.__catalogPwned = true; document.title = &quot;pwned&quot;;&lt;/script&gt;');
    expect(html).toContain('&lt;img src=&quot;/x.png&quot;');
    expect(html).toContain('Hostile &lt;i&gt;name&lt;/i&gt;');
    expect(html.match(/<script/gi)).toHaveLength(1);
    expect(html).not.toMatch(/<img/i);
  });

  it('references no external asset and declares its language', async () => {
    const html = renderCatalog(await allContracts());
    expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
    expect(html.match(/\s(?:src|href)="(?!#|data:)[^"]*"/g)).toBeNull();
    expect(html).toContain('<title>Herald contract catalog</title>');
  });

  it('gives the same page for the same contracts when no generation time is given', async () => {
    const contracts = await allContracts();
    expect(renderCatalog(contracts)).toBe(renderCatalog([...contracts].reverse()));
    const at = new Date('2026-11-29T18:00:00Z');
    expect(renderCatalog(contracts, { generatedAt: at })).toContain('<time datetime="2026-11-29T18:00:00.000Z">');
  });

  it('shows the service levels and "not checked" for versions without a compatibility check', async () => {
    const html = renderCatalog(await allContracts(), { history: HISTORY });
    expect(html).toContain('<li data-sla="freshness"><b>freshness</b>: 5 s</li>');
    expect(html).toMatch(
      /data-version="1\.0\.0" data-verdict="not-checked">\s*<th scope="row">1\.0\.0<\/th><td colspan="4"><span class="verdict not-checked">not checked/,
    );
    expect(html).toContain('&lt;b&gt;recipient.country&lt;/b&gt; was added as required');
  });

  it('refuses two contracts with the same id and version', async () => {
    const [order] = await loadContractDir('examples/orders/contracts');
    expect(() => renderCatalog([order!, { ...order!, file: 'copy.yaml' }])).toThrow(/version 1\.0\.0 is declared twice/);
  });
});

describe('herald contract docs', () => {
  it('writes <out>/index.html and prints its path', async () => {
    const out = await mkdtemp(join(tmpdir(), 'herald-docs-'));
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const file = await contractDocsCommand({ contracts: 'test/warehouse/contracts', out: join(out, 'site') });
      expect(file).toBe(join(out, 'site', 'index.html'));
      expect(write).toHaveBeenCalledWith(`${file}\n`);
      const html = await readFile(file, 'utf8');
      expect(html).toContain('data-contract="test.shipment-sent" data-version="1.1.0"');
      expect(html).toMatch(/Generated <time datetime="/);
    } finally {
      write.mockRestore();
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('the catalog in headless Chromium', () => {
  let dir: string;
  let server: Server;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  let contracts: Contract[];
  const problems: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-catalog-e2e-'));
    contracts = await allContracts();
    const html = renderCatalog(contracts, { title: TITLE, history: HISTORY, generatedAt: new Date() });
    await writeFile(join(dir, 'index.html'), html);
    server = createServer((req, res) => {
      if (req.url === '/' || req.url === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    context = await launchChromium(join(dir, 'user-data'));
    page = await context.newPage();
    watch(page, problems);
    await page.goto(url, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => server?.close(resolve));
    if (process.env.HERALD_KEEP_E2E === undefined) await rm(dir, { recursive: true, force: true });
    else console.log(`catalog e2e artifacts kept in ${dir}`);
  });

  it('loads without console errors or failed requests, with its title', async () => {
    expect(await page.title()).toBe(TITLE);
    expect(await page.locator('h1').textContent()).toBe(TITLE);
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(problems).toEqual([]);
  });

  it('lists every contract id in the index and every version in its section', async () => {
    const ids = [...new Set(contracts.map((c) => c.id))].sort();
    expect(await page.locator('tr.index-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-contract')))).toEqual(ids);
    for (const c of contracts) {
      const row = page.locator(`tr.index-row[data-contract="${c.id}"]`);
      expect(await row.locator('th').textContent()).toBe(c.id);
      const version = page.locator(`section.contract[data-contract="${c.id}"] article.version[data-version="${c.version}"]`);
      expect(await version.count()).toBe(1);
      expect(await version.isVisible()).toBe(true);
      expect(await version.locator('h3').textContent()).toContain(`Version ${c.version}`);
    }
    expect(await page.locator('tr.index-row[data-contract="test.shipment-sent"] .latest-version').textContent()).toBe('1.1.0');
  });

  it('marks personal fields with their treatment, and no other field', async () => {
    for (const c of contracts) {
      const rows = page.locator(`article.version[data-contract="${c.id}"][data-version="${c.version}"] tr.field`);
      const seen: Record<string, string> = {};
      const n = await rows.count();
      expect(n).toBeGreaterThan(0);
      for (let i = 0; i < n; i++) {
        const row = rows.nth(i);
        const field = (await row.getAttribute('data-field'))!;
        const pii = await row.getAttribute('data-pii');
        expect(pii, `${c.id} ${c.version} ${field}`).toMatch(/^(true|false)$/);
        const badge = row.locator('.badge.pii');
        if (pii === 'true') {
          const treatment = (await row.getAttribute('data-pii-treatment'))!;
          seen[field] = treatment;
          expect(await badge.isVisible()).toBe(true);
          expect(await badge.textContent()).toContain(`PII · ${treatment}`);
        } else {
          expect(await badge.count(), `${c.id} ${c.version} ${field} has no PII badge`).toBe(0);
        }
      }
      expect(seen, `${c.id} ${c.version}`).toEqual(PERSONAL[c.id]);
    }
    const email = page.locator('article.version[data-contract="orders.order-placed"] tr.field[data-field="customerEmail"]');
    expect(await email.locator('.badge.pii').textContent()).toBe('PII · mask');
    expect(await page.locator('tr.index-row[data-contract="orders.order-placed"] .badge.pii').count()).toBe(1);
    expect(await page.locator('tr.index-row[data-contract="test.hostile-text"] .badge.pii').count()).toBe(0);
  });

  it('shows nested fields, enum values and bounds, service levels and the compatibility history', async () => {
    const v11 = page.locator('article.version[data-contract="test.shipment-sent"][data-version="1.1.0"]');
    expect(await v11.locator('tr.field[data-field="carrier"] .enum').textContent()).toBe('one of dhl, ups, post');
    expect(await v11.locator('tr.field[data-field="items[].sku"]').count()).toBe(1);
    const order = page.locator('article.version[data-contract="orders.order-placed"]');
    expect(await order.locator('tr.field[data-field="total"] .constraints').textContent()).toBe('≥ 0');
    expect(await order.locator('[data-sla="freshness"]').textContent()).toBe('freshness: 5 s');
    const history = page.locator('section.contract[data-contract="test.shipment-sent"] tr.history-row');
    expect(await history.evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-version'), r.getAttribute('data-verdict')]))).toEqual([
      ['1.1.0', 'breaks'],
      ['1.0.0', 'not-checked'],
    ]);
    expect(await history.first().textContent()).toContain('<b>recipient.country</b> was added as required');
  });

  it('navigates to a contract through its index link', async () => {
    await page.locator('tr.index-row[data-contract="test.shipment-sent"] th a').click();
    await page.waitForURL(/#contract-test\.shipment-sent$/);
    const section = page.locator('section.contract[data-contract="test.shipment-sent"]');
    const box = (await section.boundingBox())!;
    expect(Math.abs(box.y)).toBeLessThan(2);
    expect(await page.evaluate('window.scrollY')).toBeGreaterThan(0);
    expect(await page.locator('section.contract:target').getAttribute('data-contract')).toBe('test.shipment-sent');
  });

  it('shows a script in a contract as text and does not run it', async () => {
    const description = page.locator('article.version[data-contract="test.hostile-text"] p.description');
    expect(await description.textContent()).toBe(
      '<script>window.__catalogPwned = true; document.title = "pwned";</script> Text & "quotes" stay text.',
    );
    expect(await description.isVisible()).toBe(true);
    expect(await page.evaluate('typeof window.__catalogPwned')).toBe('undefined');
    expect(await page.title()).toBe(TITLE);
    expect(await page.locator('script').count()).toBe(1);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('section.contract[data-contract="test.hostile-text"] h2').textContent()).toBe(
      'Hostile <i>name</i> test.hostile-text',
    );
  });

  it('filters the index with its inline script', async () => {
    const filter = page.locator('#filter');
    expect(await filter.isVisible()).toBe(true);
    await filter.fill('shipment');
    expect(await page.locator('tr.index-row:visible').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-contract')))).toEqual([
      'test.shipment-sent',
    ]);
    await filter.fill('');
    expect(await page.locator('tr.index-row:visible').count()).toBe(3);
  });

  it('takes a screenshot, and works from file:// too, still without errors', async () => {
    const shot = join(dir, 'catalog.png');
    await page.goto(url);
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).toBeGreaterThan(10_000);

    const local = await context.newPage();
    watch(local, problems);
    await local.goto(pathToFileURL(join(dir, 'index.html')).href);
    expect(await local.title()).toBe(TITLE);
    expect(await local.locator('section.contract').count()).toBe(3);
    await local.close();
    expect(problems).toEqual([]);
  });
});

/** Collects console errors, page errors, failed requests and HTTP errors of `page` into `problems`. */
