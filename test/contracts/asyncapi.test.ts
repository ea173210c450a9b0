import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import specs from '@asyncapi/specs';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contractExportCommand } from '../../src/cli/commands/contract-export.js';
import { asyncApiDocument, asyncApiMessageId } from '../../src/contracts/asyncapi.js';
import type { Contract } from '../../src/contracts/contract.js';
import { loadContractDir } from '../../src/contracts/load.js';
import { ContractRegistry } from '../../src/contracts/registry.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// The official AsyncAPI 3.0.0 schema (@asyncapi/specs). It embeds the draft-07 meta-schema under
// its own $id, so ajv must not add its copy too (`meta: false`) or the reference is ambiguous.
const validate = addFormats(new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false })).compile(
  specs.schemas['3.0.0'],
);

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let contracts: Contract[];
let doc: Json;
let dir: string;

beforeAll(async () => {
  contracts = [...(await loadContractDir('examples/orders/contracts')), ...(await loadContractDir('test/warehouse/contracts'))];
  doc = asyncApiDocument(new ContractRegistry(contracts), { title: 'Orders and shipments', version: '2.3.0' });
  dir = await mkdtemp(join(tmpdir(), 'herald-asyncapi-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every local `$ref` in the document, with whether it points at something. */
function refs(node: unknown, root: Json, out: { ref: string; ok: boolean }[] = []): { ref: string; ok: boolean }[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, root, out));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        const target = v
          .slice(2)
          .split('/')
          .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
          .reduce<unknown>((at, key) => (at as Json | undefined)?.[key], root);
        out.push({ ref: v, ok: v.startsWith('#/') && target !== undefined });
      } else refs(v, root, out);
    }
  }
  return out;
}

describe('asyncApiDocument', () => {
  it('is a valid AsyncAPI 3.0.0 document, by the official schema', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.info).toMatchObject({ title: 'Orders and shipments', version: '2.3.0' });
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
  });

  it('fails the schema when it is broken (the validation is not vacuous)', () => {
    const broken = structuredClone(doc);
    (Object.values(broken.operations)[0] as Json).action = 'publish';
    expect(validate(broken)).toBe(false);
    const badPayload = structuredClone(doc);
    (Object.values(badPayload.components.messages)[0] as Json).payload.type = 'strin';
    expect(validate(badPayload)).toBe(false);
  });

  it('has one channel per topic, addressed by the topic, with every contract version on it', () => {
    const channels = doc.channels as Json;
    expect(Object.values(channels).map((c: Json) => c.address)).toEqual(['orders.order-placed.v1', 'test.shipment-sent']);
    expect(Object.keys(channels['test.shipment-sent'].messages)).toEqual(['test.shipment-sent_1.0.0', 'test.shipment-sent_1.1.0']);
    expect(Object.keys(channels['orders.order-placed.v1'].messages)).toEqual(['orders.order-placed_1.0.0']);
  });

  it('has a send operation per channel, listing the messages of that channel', () => {
    expect(doc.operations['send.test.shipment-sent']).toMatchObject({
      action: 'send',
      channel: { $ref: '#/channels/test.shipment-sent' },
      messages: [
        { $ref: '#/channels/test.shipment-sent/messages/test.shipment-sent_1.0.0' },
        { $ref: '#/channels/test.shipment-sent/messages/test.shipment-sent_1.1.0' },
      ],
    });
    expect(Object.keys(doc.operations)).toHaveLength(2);
  });

  it('resolves every reference', () => {
    const all = refs(doc, doc);
    // 3 channel messages, 2 operation channels, 3 operation messages.
    expect(all).toHaveLength(8);
    expect(all.filter((r) => !r.ok)).toEqual([]);
  });

  it('describes each contract version as a message: payload = its JSON Schema, CloudEvents headers, Kafka key', () => {
    expect(Object.keys(doc.components.messages)).toHaveLength(contracts.length);
    for (const c of contracts) {
      const m = doc.components.messages[asyncApiMessageId(c)] as Json;
      expect(m).toMatchObject({ name: c.eventType, title: `${c.name} ${c.version}`, contentType: 'application/json' });
      expect(m.payload).toEqual(c.jsonSchema);
      expect(m.headers.properties.ce_type.const).toBe(c.eventType);
      expect(m.headers.properties.ce_dataschema.const).toBe(c.dataschema);
      expect(m.headers.required).toEqual(expect.arrayContaining(['ce_id', 'ce_source', 'ce_type', 'ce_time', 'ce_partitionkey']));
      expect(m.bindings.kafka).toMatchObject({ key: { type: 'string' }, bindingVersion: '0.5.0' });
      expect(m.bindings.kafka.key.description).toContain(c.partitionKey);
      expect(m['x-herald-contract']).toEqual({
        id: c.id,
        version: c.version,
        status: c.status,
        compatibility: c.compatibility,
        partitionKey: c.partitionKey,
        dataschema: c.dataschema,
      });
    }
  });

  it('uses the relay topic mapping for channel addresses', () => {
    const mapped = asyncApiDocument(contracts, { topics: { 'test.shipment-sent': 'prod.shipments' } }) as Json;
    expect(Object.values(mapped.channels as Json).map((c: Json) => c.address)).toEqual(['orders.order-placed.v1', 'prod.shipments']);
    expect(validate(mapped)).toBe(true);
    expect(refs(mapped, mapped).filter((r) => !r.ok)).toEqual([]);
  });

  it('is the same for the same contracts in any order', () => {
    expect(JSON.stringify(asyncApiDocument([...contracts].reverse()))).toBe(JSON.stringify(asyncApiDocument(contracts)));
  });

  it('is written as YAML by `herald contract export --format asyncapi`, and JSON for a .json file', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const yamlFile = join(dir, 'asyncapi.yaml');
      const result = await contractExportCommand({
        contracts: 'test/warehouse/contracts',
        format: 'asyncapi',
        out: yamlFile,
        title: 'Shipments',
      });
      expect(result).toEqual({ format: 'asyncapi', files: [yamlFile], changed: [yamlFile] });
      const text = await readFile(yamlFile, 'utf8');
      expect(text).toMatch(/^asyncapi: 3\.0\.0\n/);
      expect(text).not.toMatch(/[&*]a\d/);
      const parsed = parseYaml(text) as Json;
      expect(parsed.info.title).toBe('Shipments');
      expect(validate(parsed), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
      expect(
        (await contractExportCommand({ contracts: 'test/warehouse/contracts', format: 'asyncapi', out: yamlFile, title: 'Shipments' }))
          .changed,
      ).toEqual([]);

      const jsonFile = join(dir, 'asyncapi.json');
      await contractExportCommand({ contracts: 'test/warehouse/contracts', format: 'asyncapi', out: jsonFile });
      expect(JSON.parse(await readFile(jsonFile, 'utf8'))).toEqual(asyncApiDocument(await loadContractDir('test/warehouse/contracts')));
    } finally {
      vi.restoreAllMocks();
    }
  });
});
