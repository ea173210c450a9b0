import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { HeraldError, ErrorCodes } from '../errors.js';
import type { Contract } from './contract.js';
import { loadContractDir } from './load.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** A Herald `dataschema`: `urn:herald:contract:<id>:<version>` (see `dataschemaOf`). */
const DATASCHEMA = /^urn:herald:contract:(.+):(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$/;

/** The ajv instance contracts are compiled with: strict, with the standard formats. */
export function contractAjv(): Ajv {
  return addFormats(new Ajv({ allErrors: false, strict: true, allowUnionTypes: true }));
}

/**
 * The set of loaded contracts, with one compiled validator per contract version (compiled once,
 * at load). Several versions of one contract id live side by side; lookups without a version
 * take the highest.
 */
export class ContractRegistry {
  readonly #byId = new Map<string, Contract[]>();
  readonly #validators = new Map<Contract, ValidateFunction>();
  readonly #bySchema = new Map<string, Contract>();
  /** The newest version per CloudEvents type. */
  readonly #byType = new Map<string, Contract>();

  /** Builds a registry; throws `CONTRACT_INVALID` when two files declare the same id and version. */
  constructor(contracts: readonly Contract[]) {
    const ajv = contractAjv();
    for (const [id, versions] of groupVersions(contracts)) {
      this.#byId.set(id, versions);
      for (const c of versions) this.#validators.set(c, ajv.compile(c.jsonSchema));
    }
    for (const c of this.list()) {
      this.#bySchema.set(c.dataschema, c);
      // list() is sorted by id then version, so the last one set for a type is the newest.
      this.#byType.set(c.eventType, c);
    }
  }

  /** Loads every contract file under `dir`; see {@link loadContractDir}. */
  static async fromDir(dir: string): Promise<ContractRegistry> {
    return new ContractRegistry(await loadContractDir(dir));
  }

  /** All contracts, every version, sorted by id then version. */
  list(): Contract[] {
    return [...this.#byId.keys()].sort().flatMap((id) => this.#byId.get(id)!);
  }

  /** The contract `id` at `version` (default: the highest). Throws `CONTRACT_NOT_FOUND`. */
  get(id: string, version?: string): Contract {
    const versions = this.#byId.get(id);
    const found = version === undefined ? versions?.at(-1) : versions?.find((c) => c.version === version);
    if (!found) {
      const known = versions
        ? `; known versions: ${versions.map((v) => v.version).join(', ')}`
        : `; known contracts: ${[...this.#byId.keys()].join(', ') || 'none'}`;
      throw new HeraldError(ErrorCodes.CONTRACT_NOT_FOUND, `no contract '${id}'${version ? ` version ${version}` : ''}${known}`, {
        details: { contract: id, version },
      });
    }
    return found;
  }

  /**
   * The contract of a received event: the one its `dataschema` names, else the newest version
   * whose event type is its `type`. Returns the reason instead when there is none (a Herald
   * dataschema of a version not loaded, an unknown type, neither attribute), worded for a
   * dead-letter row.
   */
  forEvent(dataschema: string | undefined, type: string | undefined): Contract | string {
    if (dataschema !== undefined) {
      const found = this.#bySchema.get(dataschema);
      if (found) return found;
      const m = DATASCHEMA.exec(dataschema);
      if (m) return `no contract '${m[1]}' version ${m[2]} is loaded; add its file to the contracts directory and replay this dead letter`;
    }
    const byType = type === undefined ? undefined : this.#byType.get(type);
    if (byType) return byType;
    return type === undefined
      ? 'the message has no CloudEvents type (ce-type) and no Herald dataschema, so its contract is unknown'
      : `no contract for event type '${type}' is loaded; add its file to the contracts directory`;
  }

  /** The newest contract version whose CloudEvents type is `type`, if any. */
  forType(type: string): Contract | undefined {
    return this.#byType.get(type);
  }

  /**
   * Validates `data` against the contract. Throws `EVENT_INVALID` naming the contract, the
   * version and the JSON path of the first failure. The failing value itself is not printed.
   */
  validate(contract: Contract, data: unknown): void {
    const validator = this.#validators.get(contract);
    if (!validator)
      throw new HeraldError(ErrorCodes.CONTRACT_NOT_FOUND, `contract '${contract.id}' version ${contract.version} is not in this registry`);
    if (validator(data)) return;
    const err = validator.errors![0]!;
    const params = err.params as Record<string, unknown>;
    const path =
      err.keyword === 'required'
        ? `${err.instancePath}/${String(params.missingProperty)}`
        : err.keyword === 'additionalProperties'
          ? `${err.instancePath}/${String(params.additionalProperty)}`
          : err.instancePath || '/';
    const reason =
      err.keyword === 'required'
        ? 'is required'
        : err.keyword === 'additionalProperties'
          ? 'is not in the contract'
          : (err.message ?? err.keyword);
    throw new HeraldError(
      ErrorCodes.EVENT_INVALID,
      `event for contract '${contract.id}' version ${contract.version} is invalid at ${path}: ${reason}`,
      {
        details: { contract: contract.id, version: contract.version, path, keyword: err.keyword },
      },
    );
  }
}

/** Orders semantic versions numerically (1.10.0 after 1.9.0); pre-releases sort before releases. */
export function compareVersions(a: string, b: string): number {
  const [ca, pa] = a.split('-', 2) as [string, string | undefined];
  const [cb, pb] = b.split('-', 2) as [string, string | undefined];
  const na = ca.split('.').map(Number);
  const nb = cb.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (na[i] !== nb[i]) return na[i]! - nb[i]!;
  if (pa === pb) return 0;
  if (pa === undefined) return 1;
  if (pb === undefined) return -1;
  return pa < pb ? -1 : 1;
}

/** Contracts grouped by id, each group sorted by version; throws on a duplicate id and version. */
export function groupVersions(contracts: readonly Contract[]): Map<string, Contract[]> {
  const byId = new Map<string, Contract[]>();
  for (const c of contracts) {
    const versions = byId.get(c.id) ?? [];
    const dup = versions.find((v) => v.version === c.version);
    if (dup) {
      throw new HeraldError(
        ErrorCodes.CONTRACT_INVALID,
        `contract '${c.id}' version ${c.version} is declared twice: ${dup.file} and ${c.file}`,
        {
          details: { contract: c.id, version: c.version },
        },
      );
    }
    versions.push(c);
    byId.set(c.id, versions);
  }
  for (const versions of byId.values()) versions.sort((a, b) => compareVersions(a.version, b.version));
  return byId;
}
