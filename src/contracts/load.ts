import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { HeraldError, ErrorCodes } from '../errors.js';
import {
  CompatibilityModes,
  WarehouseEvolutions,
  dataschemaOf,
  type CompatibilityMode,
  type Contract,
  type OdcsProperty,
  type OdcsQualityRule,
  type SlaProperty,
  type WarehouseEvolution,
} from './contract.js';
import { objectSchema } from './json-schema.js';

// The official ODCS v3.1.0 JSON Schema (Apache-2.0, bitol-io/open-data-contract-standard),
// shipped with Herald so contract files are checked offline.
const odcsSchema = createRequire(import.meta.url)('./odcs-json-schema-v3.1.0.json') as object;
let odcsValidator: ReturnType<Ajv2019['compile']> | undefined;

const CONTRACT_ID = /^[a-z0-9][a-z0-9._-]*$/;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
const KEY_TYPES = new Set(['string', 'integer']);
const TABLE = /^[a-z_][a-z0-9_]{0,59}$/;

/**
 * Loads every `*.yaml` / `*.yml` contract under `dir` (recursively). Throws `CONTRACT_INVALID`
 * naming the file, the line and the reason for the first file that is malformed, so a broken
 * contract stops a deployment instead of letting events through unchecked.
 */
export async function loadContractDir(dir: string): Promise<Contract[]> {
  let files: string[];
  try {
    files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  } catch (cause) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `cannot read contracts directory '${dir}': ${(cause as Error).message}; set --contracts to a folder of ODCS YAML files`,
      { cause },
    );
  }
  const contracts: Contract[] = [];
  for (const f of files) {
    const path = join(dir, f);
    contracts.push(parseContract(await readFile(path, 'utf8'), relative(process.cwd(), path) || path));
  }
  return contracts;
}

/**
 * Parses one contract file's text. `file` is used only in error messages and `Contract.file`.
 * Checks, in order: YAML syntax, the official ODCS v3.1.0 schema, then Herald's own rules
 * (one schema object, a partition key that exists and is required, a known compatibility mode).
 */
export function parseContract(text: string, file: string): Contract {
  return parseContractSource(text, file).contract;
}

/** A parsed contract with its YAML document and line index, for tools that point at lines. */
export interface ContractSource {
  readonly contract: Contract;
  readonly doc: Document;
  readonly lines: LineCounter;
}

/** {@link parseContract}, keeping the YAML document it parsed; throws the same errors. */
export function parseContractSource(text: string, file: string): ContractSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail = (reason: string, path: readonly (string | number)[] = []): never => {
    const line = lineOf(doc, lines, path);
    throw new HeraldError(ErrorCodes.CONTRACT_INVALID, `invalid contract ${file}:${line}: ${reason}`, {
      details: { file, line, path: '/' + path.join('/') },
    });
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = lines.linePos(e.pos[0]).line;
    throw new HeraldError(ErrorCodes.CONTRACT_INVALID, `invalid contract ${file}:${line}: yaml syntax: ${e.message.split('\n')[0]}`, {
      details: { file, line },
    });
  }
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail('expected a mapping with the ODCS fields (apiVersion, kind, id, version, status, schema)');

  odcsValidator ??= new Ajv2019({ strict: false, allErrors: false, validateFormats: false, logger: false }).compile(odcsSchema);
  if (!odcsValidator(raw)) {
    const err = odcsValidator.errors![0]!;
    const params = err.params as Record<string, unknown>;
    const extraKey = params.additionalProperty ?? params.unevaluatedProperty;
    // Point at the offending key itself, not at the mapping that holds it.
    const path = [...pointerToPath(err.instancePath), ...(typeof extraKey === 'string' ? [extraKey] : [])];
    const where = err.instancePath === '' ? '' : ` at ${err.instancePath}`;
    const extra =
      err.keyword === 'additionalProperties' || err.keyword === 'unevaluatedProperties'
        ? ` ('${String((err.params as Record<string, unknown>).additionalProperty ?? (err.params as Record<string, unknown>).unevaluatedProperty)}')`
        : '';
    fail(`does not follow ODCS v3.1.0${where}: ${err.message ?? err.keyword}${extra}`, path);
  }
  const c = raw as Record<string, unknown>;
  const id = c.id as string;
  if (!CONTRACT_ID.test(id)) fail(`id '${id}' must be lowercase letters, digits, '.', '_' or '-'`, ['id']);
  const version = c.version as string;
  if (!SEMVER.test(version)) fail(`version '${version}' must be a semantic version such as 1.0.0`, ['version']);

  const schema = (c.schema as Record<string, unknown>[] | undefined) ?? [];
  if (schema.length !== 1) fail(`expected exactly one schema object (the event's data), found ${schema.length}`, ['schema']);
  const properties = (schema[0]!.properties as OdcsProperty[] | undefined) ?? [];
  if (properties.length === 0) fail('the schema object has no properties', ['schema', 0]);
  checkNames(properties, ['schema', 0, 'properties'], fail);

  const custom = new Map<string, { value: unknown; index: number }>();
  ((c.customProperties as { property: string; value: unknown }[] | undefined) ?? []).forEach((p, index) =>
    custom.set(p.property, { value: p.value, index }),
  );
  const customPath = (name: string): (string | number)[] => {
    const found = custom.get(name);
    return found === undefined ? [] : ['customProperties', found.index, 'value'];
  };

  const partitionKey = custom.get('partitionKey')?.value;
  if (typeof partitionKey !== 'string')
    fail("customProperties must name the partition key: '- property: partitionKey' with 'value: <top-level property>'");
  const keyIndex = properties.findIndex((p) => p.name === partitionKey);
  if (keyIndex < 0) fail(`partition key '${String(partitionKey)}' is not a top-level property of the schema`, customPath('partitionKey'));
  const keyProp = properties[keyIndex]!;
  if (keyProp.required !== true || !KEY_TYPES.has(keyProp.logicalType ?? 'string')) {
    fail(`partition key '${keyProp.name}' must be a required string or integer property`, ['schema', 0, 'properties', keyIndex]);
  }

  const compatibility = (custom.get('compatibility')?.value ?? 'BACKWARD') as CompatibilityMode;
  if (!CompatibilityModes.includes(compatibility)) {
    fail(`compatibility '${String(compatibility)}' must be one of ${CompatibilityModes.join(', ')}`, customPath('compatibility'));
  }
  const topic = (custom.get('topic')?.value ?? id) as string;
  if (typeof topic !== 'string' || !TOPIC.test(topic))
    fail(`topic '${String(topic)}' must be 1-249 letters, digits, '.', '_' or '-'`, customPath('topic'));
  const eventType = (custom.get('eventType')?.value ?? id) as string;
  if (typeof eventType !== 'string' || eventType.length === 0) fail('eventType must be a non-empty string', customPath('eventType'));

  const warehouseTable = (custom.get('warehouseTable')?.value ?? id.replace(/[.-]/g, '_')) as string;
  if (typeof warehouseTable !== 'string' || !TABLE.test(warehouseTable))
    fail(
      `warehouseTable '${String(warehouseTable)}' must be a lowercase SQL identifier (letters, digits, '_', at most 60); set customProperty warehouseTable`,
      customPath('warehouseTable'),
    );
  const warehouseEvolution = (custom.get('warehouseEvolution')?.value ?? 'addColumns') as WarehouseEvolution;
  if (!WarehouseEvolutions.includes(warehouseEvolution))
    fail(
      `warehouseEvolution '${String(warehouseEvolution)}' must be one of ${WarehouseEvolutions.join(', ')}`,
      customPath('warehouseEvolution'),
    );

  const team = c.team as { name?: string } | undefined;
  const description = c.description as { purpose?: string } | undefined;
  const contract: Contract = Object.freeze({
    id,
    name: (c.name as string | undefined) ?? id,
    version,
    status: c.status as string,
    owner: team !== undefined && !Array.isArray(team) ? team.name : undefined,
    description: description?.purpose,
    eventType,
    topic,
    partitionKey: keyProp.name,
    compatibility,
    warehouseTable,
    warehouseEvolution,
    // The ODCS schema has already checked their shape (property and value required, nothing else).
    slaProperties: (c.slaProperties as SlaProperty[] | undefined) ?? [],
    properties,
    quality: (schema[0]!.quality as OdcsQualityRule[] | undefined) ?? [],
    jsonSchema: objectSchema(properties),
    dataschema: dataschemaOf(id, version),
    file,
  });
  return { contract, doc, lines };
}

function checkNames(props: readonly OdcsProperty[], path: (string | number)[], fail: (r: string, p: (string | number)[]) => never): void {
  const seen = new Set<string>();
  props.forEach((p, i) => {
    if (seen.has(p.name)) fail(`property '${p.name}' is declared twice`, [...path, i, 'name']);
    seen.add(p.name);
    if (p.logicalType === 'object' && p.properties !== undefined) checkNames(p.properties, [...path, i, 'properties'], fail);
  });
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The 1-based line of the deepest node on `path` that exists in the document. */
export function lineOf(doc: Document, lines: LineCounter, path: readonly (string | number)[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return 1;
}
