import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contractCodegenCommand } from '../../src/cli/commands/contract-codegen.js';
import { generateContractModule, generatedNames } from '../../src/contracts/codegen.js';
import { loadContractDir, parseContract } from '../../src/contracts/load.js';
import { HeraldError } from '../../src/errors.js';

const ROOT = resolve('.');
const ORDERS = 'examples/orders/contracts';
const SHIPMENTS = 'test/warehouse/contracts';

/**
 * Code that uses the generated helpers. Every line after a `// @ts-expect-error <needle>` must be
 * a compile error whose message mentions `<needle>`; everything else must compile.
 */
const USAGE = `
import type { PostgresOutbox } from '%HERALD%';
import { appendOrderPlacedV1, orderPlacedV1Input, OrderPlacedV1Contract, type OrderPlacedV1 } from './orders.js';
import { appendShipmentSentV1, appendShipmentSentV1_1, shipmentSentV1_1Input, type ShipmentSentV1 } from './shipments.js';

declare const outbox: PostgresOutbox;
declare const tx: unknown;

const order: OrderPlacedV1 = {
  orderId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f',
  customerId: 'cust-42',
  total: 59.9,
  currency: 'EUR',
  placedAt: '2026-11-29T18:00:00Z',
  lines: [{ sku: 'A-1', quantity: 2, unitPrice: 29.95 }],
};

const shipment: ShipmentSentV1 = {
  shipmentId: '0190f5b2-6c1e-7d3a-9a51-2f1c3b4d5e6f',
  carrier: 'dhl',
  weightKg: 2.5,
  parcels: 3,
  insured: true,
  declaredValue: 1234.56,
  shippedAt: '2026-11-29T18:30:00Z',
  shipDate: '2026-11-29',
  cutoff: '17:45:00Z',
  order: 'ord-9',
  recipient: { name: 'Ada', email: 'ada@example.com', birthYear: 1815, city: 'London' },
  phone: null,
  tags: ['fragile'],
  aliases: ['Countess'],
  items: [{ sku: 'A-1', qty: 2 }, { sku: 'B-2', qty: null }, { sku: 'C-3' }],
  extra: [1, 'two', { three: 3 }],
};

export async function valid(): Promise<string> {
  const placed = await appendOrderPlacedV1(outbox, tx, order, { subject: 'order-1' });
  const data: OrderPlacedV1 = placed.data;
  await appendOrderPlacedV1(outbox, tx, { ...order, customerEmail: 'ada@example.com' });
  await appendOrderPlacedV1(outbox, tx, { ...order, customerEmail: null });
  await outbox.appendMany(tx, [orderPlacedV1Input(order), orderPlacedV1Input(order, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })]);
  await appendShipmentSentV1(outbox, tx, shipment);
  await appendShipmentSentV1(outbox, tx, { shipmentId: 's-1', carrier: 'post' });
  await appendShipmentSentV1(outbox, tx, { shipmentId: 's-1', carrier: 'ups', recipient: null, tags: null, items: [] });
  await appendShipmentSentV1_1(outbox, tx, { ...shipment, recipient: { city: 'Zürich', country: 'CH' }, service: 'express' });
  await outbox.appendMany(tx, [shipmentSentV1_1Input({ shipmentId: 's-2', carrier: 'dhl' })]);
  const id: 'orders.order-placed' = OrderPlacedV1Contract.id;
  const version: '1.0.0' = OrderPlacedV1Contract.version;
  return id + version + data.customerId;
}

export async function invalid(): Promise<void> {
  // @ts-expect-error customerId
  await appendOrderPlacedV1(outbox, tx, { orderId: 'o-1', total: 1, currency: 'EUR', placedAt: '2026-11-29T18:00:00Z', lines: [] });
  // @ts-expect-error 'null' is not assignable to type 'string'
  await appendOrderPlacedV1(outbox, tx, { ...order, customerId: null });
  // @ts-expect-error 'string' is not assignable to type 'number'
  await appendOrderPlacedV1(outbox, tx, { ...order, total: '59.90' });
  // @ts-expect-error discount
  await appendOrderPlacedV1(outbox, tx, { ...order, discount: 5 });
  // @ts-expect-error 'string' is not assignable to type 'number'
  await appendOrderPlacedV1(outbox, tx, { ...order, lines: [{ sku: 'A-1', quantity: '2', unitPrice: 1 }] });
  // @ts-expect-error colour
  await appendOrderPlacedV1(outbox, tx, { ...order, lines: [{ sku: 'A-1', quantity: 2, unitPrice: 1, colour: 'red' }] });
  // @ts-expect-error version
  await appendOrderPlacedV1(outbox, tx, order, { version: '2.0.0' });
  // @ts-expect-error "fedex"
  await appendShipmentSentV1(outbox, tx, { ...shipment, carrier: 'fedex' });
  // @ts-expect-error 'number' is not assignable to type 'string'
  await appendShipmentSentV1(outbox, tx, { ...shipment, recipient: { city: 7 } });
  // @ts-expect-error planet
  await appendShipmentSentV1(outbox, tx, { ...shipment, recipient: { city: 'Bern', planet: 'Mars' } });
  // @ts-expect-error 'number' is not assignable to type 'string'
  await appendShipmentSentV1(outbox, tx, { ...shipment, tags: [1] });
  // @ts-expect-error 'string' is not assignable to type 'boolean | null | undefined'
  await appendShipmentSentV1(outbox, tx, { ...shipment, insured: 'yes' });
  // @ts-expect-error service
  await appendShipmentSentV1(outbox, tx, { ...shipment, service: 'express' });
  // @ts-expect-error sku
  await appendShipmentSentV1(outbox, tx, { ...shipment, items: [{ qty: 1 }] });
  // @ts-expect-error read-only
  order.total = 1;
  // @ts-expect-error push
  order.lines.push({ sku: 'A-2', quantity: 1, unitPrice: 1 });
  // @ts-expect-error ShipmentSentV1
  await appendShipmentSentV1(outbox, tx, order);
}
`;

/** A file whose only directive is on a line that compiles: proves unused directives are reported. */
const CONTROL = `
import { appendOrderPlacedV1, type OrderPlacedV1 } from './orders.js';
declare const outbox: Parameters<typeof appendOrderPlacedV1>[0];
declare const order: OrderPlacedV1;
// @ts-expect-error this line compiles, so the directive itself is an error
export const fine = appendOrderPlacedV1(outbox, undefined, order);
`;

let dir: string;
let ordersText: string;
let shipmentsText: string;
let diagnostics: readonly ts.Diagnostic[];

beforeAll(async () => {
  await mkdir('test/.generated', { recursive: true });
  dir = await mkdtemp(join('test/.generated', 'codegen-'));
  const herald = relative(dir, join(ROOT, 'src/index.js')).split('\\').join('/');
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await contractCodegenCommand({ contracts: ORDERS, out: join(dir, 'orders.ts'), importFrom: herald });
    await contractCodegenCommand({ contracts: SHIPMENTS, out: join(dir, 'shipments.ts'), importFrom: herald });
  } finally {
    vi.restoreAllMocks();
  }
  ordersText = await readFile(join(dir, 'orders.ts'), 'utf8');
  shipmentsText = await readFile(join(dir, 'shipments.ts'), 'utf8');
  // The code that uses the modules lives only in memory: a file that must not compile
  // (usage-bare.ts) never reaches the disk, where `tsc -p .` or eslint could trip over it.
  const usage = USAGE.replace('%HERALD%', herald);
  const virtual = new Map([
    [resolve(dir, 'usage.ts'), usage],
    // The same code without the directives: each formerly marked line must fail on its own.
    [resolve(dir, 'usage-bare.ts'), usage.replace(/\/\/ @ts-expect-error/g, '// expected error:')],
    [resolve(dir, 'control.ts'), CONTROL],
  ]);
  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  )!;
  const options = { ...config.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile: read, getSourceFile } = host;
  host.fileExists = (f) => virtual.has(resolve(f)) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(resolve(f)) ?? read.call(host, f);
  host.getSourceFile = (f, language, ...rest) => {
    const text = virtual.get(resolve(f));
    return text === undefined ? getSourceFile.call(host, f, language, ...rest) : ts.createSourceFile(f, text, language);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  diagnostics = ts.getPreEmitDiagnostics(program);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Diagnostics of one file as `line: message`, 1-based lines. */
function errorsIn(file: string): { line: number; text: string }[] {
  return diagnostics
    .filter((d) => d.file !== undefined && resolve(d.file.fileName) === resolve(dir, file))
    .map((d) => ({
      line: d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1,
      text: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    }));
}

describe('contract codegen', () => {
  it('generates a module that says it is generated, from which files, and imports herald by default', async () => {
    expect(ordersText).toMatch(/^\/\/ Code generated by `herald contract codegen`\. DO NOT EDIT\./);
    expect(ordersText).toContain(`//   ${ORDERS}/order-placed.v1.yaml (orders.order-placed 1.0.0)`);
    expect(shipmentsText).toContain(`//   ${SHIPMENTS}/shipment.v1.yaml (test.shipment-sent 1.0.0)`);
    expect(shipmentsText).toContain(`//   ${SHIPMENTS}/shipment.v1.1.yaml (test.shipment-sent 1.1.0)`);
    const byDefault = generateContractModule(await loadContractDir(ORDERS));
    expect(byDefault).toContain("import type { AppendInput, HeraldEvent, PostgresOutbox } from 'herald';");
  });

  it('names every contract version after its name and version and exports its constants and helpers', () => {
    for (const name of ['OrderPlacedV1', 'OrderPlacedV1Contract', 'appendOrderPlacedV1', 'orderPlacedV1Input']) {
      expect(ordersText).toMatch(new RegExp(`^export (interface|const|function) ${name}\\b`, 'm'));
    }
    for (const name of ['ShipmentSentV1', 'ShipmentSentV1_1', 'appendShipmentSentV1', 'appendShipmentSentV1_1']) {
      expect(shipmentsText).toMatch(new RegExp(`^export (interface|function) ${name}\\b`, 'm'));
    }
    expect(ordersText).toContain("  topic: 'orders.order-placed.v1',");
    expect(ordersText).toContain("  dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',");
    expect(ordersText).toContain(
      'return outbox.append(tx, OrderPlacedV1Contract.id, data, { ...attributes, version: OrderPlacedV1Contract.version });',
    );
  });

  it('types required, optional and nullable properties, enums, nested objects and arrays, with TSDoc', () => {
    expect(ordersText).toContain('  readonly customerId: string;');
    expect(ordersText).toContain('  readonly customerEmail?: string | null;');
    expect(ordersText).toContain('  readonly lines: readonly {\n    readonly sku: string;');
    expect(ordersText).toContain('   * Personal data (classification `pii`), masked in the warehouse.\n   */\n  readonly customerEmail');
    expect(ordersText).toContain(
      'The partition key: events with equal values are delivered in commit order.\n   */\n  readonly customerId',
    );
    expect(ordersText).toContain(' * OrderPlaced 1.0.0: A customer placed an order;');
    expect(shipmentsText).toContain("  readonly carrier: 'dhl' | 'ups' | 'post';");
    expect(shipmentsText).toContain('  readonly extra?: readonly unknown[] | null;');
    expect(shipmentsText).toContain('  /** A column named with an SQL keyword. */\n  readonly order?: string | null;');
    expect(shipmentsText).toContain(
      '  readonly items?: readonly {\n    readonly sku: string;\n    /** Checked at append: an integer. */\n    readonly qty?: number | null;\n  }[] | null;',
    );
    expect(shipmentsText).toContain('Items: personal data (classification `pii`), hashed in the warehouse.');
  });

  it('compiles the valid events, and refuses each invalid one for its own reason', () => {
    const problems = diagnostics.filter((d) => !d.file || !/usage-bare\.ts$|control\.ts$/.test(d.file.fileName));
    expect(problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);

    const lines = USAGE.split('\n');
    const expected = lines.flatMap((l, i) => {
      const m = /\/\/ @ts-expect-error (.+)$/.exec(l);
      return m ? [{ line: i + 2, needle: m[1]! }] : [];
    });
    expect(expected.length).toBeGreaterThanOrEqual(15);
    const bare = errorsIn('usage-bare.ts');
    for (const { line, needle } of expected) {
      const here = bare.filter((e) => e.line === line);
      expect(here.map((e) => e.text).join('\n'), `line ${line}: ${lines[line - 1]!.trim()}`).toContain(needle);
    }
    // Nothing else fails in the bare file: every error is one the test expects.
    expect(bare.filter((e) => !expected.some((x) => x.line === e.line))).toEqual([]);
  });

  it('reports a directive on a line that compiles (the check above is not vacuous)', () => {
    expect(errorsIn('control.ts').map((e) => e.text)).toEqual(["Unused '@ts-expect-error' directive."]);
  });

  it('is deterministic: the same contracts in any order give the same text', async () => {
    const list = await loadContractDir(SHIPMENTS);
    expect(generateContractModule([...list].reverse())).toBe(generateContractModule(list));
  });

  it('names minor, patch and pre-release versions apart, without renaming the others', async () => {
    const text = await readFile(join(ORDERS, 'order-placed.v1.yaml'), 'utf8');
    const at = (version: string): string =>
      generatedNames(parseContract(text.replace('version: 1.0.0', `version: ${version}`), 'c.yaml')).type;
    expect(['1.0.0', '1.1.0', '1.1.2', '1.0.3', '2.0.0', '2.0.0-rc.1'].map(at)).toEqual([
      'OrderPlacedV1',
      'OrderPlacedV1_1',
      'OrderPlacedV1_1_2',
      'OrderPlacedV1_0_3',
      'OrderPlacedV2',
      'OrderPlacedV2_0_0_rc_1',
    ]);
    expect(generatedNames(parseContract(text.replace('name: OrderPlaced', 'name: order placed'), 'c.yaml')).append).toBe(
      'appendOrderPlacedV1',
    );
  });

  it('refuses two contracts that would generate the same name, naming both', async () => {
    const text = await readFile(join(ORDERS, 'order-placed.v1.yaml'), 'utf8');
    const a = parseContract(text, 'a.yaml');
    const b = parseContract(text.replace('id: orders.order-placed', 'id: billing.order-placed'), 'b.yaml');
    expect(() => generateContractModule([a, b])).toThrow(HeraldError);
    expect(() => generateContractModule([a, b])).toThrow(/'billing\.order-placed'.*'orders\.order-placed'.*'OrderPlacedV1'/);
  });
});
