import type { Contract, OdcsProperty } from '../contracts/contract.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { mergeFields, snakeCase, typeOfProperty, type Field } from './columns.js';
import { PiiTreatments, piiTreatmentOf, type PiiTreatment } from './pii.js';

/**
 * One warehouse table: the columns every contract version loaded into it needs, merged. Data
 * columns are all nullable, so a version that lacks a column leaves it NULL and old rows never
 * need rewriting.
 */
export interface TablePlan {
  /** The table name, a lowercase SQL identifier. */
  readonly table: string;
  readonly contractId: string;
  /** Data columns in table order (metadata columns come first, see {@link metaColumns}). */
  readonly columns: readonly Field[];
  /** The contract versions that load into this table, oldest first. */
  readonly versions: readonly Contract[];
  /**
   * Each version's own columns by name: where its values are read from and whether they are
   * personal. A version's events are written with its own fields, never with another version's.
   */
  readonly ownFields: ReadonlyMap<Contract, ReadonlyMap<string, Field>>;
}

/**
 * The metadata columns of every table, in order. `_event_id` is the primary key: the
 * CloudEvents id is what deduplicates, and it is any string, so it is stored as text.
 */
export const metaColumns = [
  '_event_id',
  '_event_type',
  '_source',
  '_subject',
  '_partition_key',
  '_event_time',
  '_contract_version',
  '_topic',
  '_position',
  '_traceparent',
] as const;

/**
 * The column every table has last: when the loader wrote the row (the warehouse's clock, set by
 * the column default). Freshness is measured on it, because event time says when something
 * happened, not when it became queryable.
 */
export const loadedAtColumn = '_loaded_at';

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** Options of {@link planTables}. */
export interface PlanOptions {
  /** The key for `hash`ed personal data; required as soon as one property is hashed. */
  readonly piiKey?: Buffer;
}

/**
 * Plans one table per contract id (per major version with `warehouseEvolution: versionedTable`),
 * merging the columns of its versions in version order. Throws `SCHEMA_INCOMPATIBLE` naming the
 * contract, the version and the change when a version cannot share its table with the earlier
 * ones, and `CONFIG_INVALID` when personal data must be hashed but no key is set.
 */
export function planTables(contracts: readonly Contract[], options: PlanOptions = {}): TablePlan[] {
  const plans = new Map<string, { plan: TablePlan; columns: Field[] }>();
  for (const contract of contracts) {
    const major = contract.version.split('.')[0]!;
    const table = contract.warehouseEvolution === 'versionedTable' ? `${contract.warehouseTable}_v${major}` : contract.warehouseTable;
    const owner = plans.get(table);
    if (owner && owner.plan.contractId !== contract.id) {
      throw new HeraldError(
        ErrorCodes.CONTRACT_INVALID,
        `contracts '${owner.plan.contractId}' and '${contract.id}' both load into warehouse table '${table}'; give one a different customProperty warehouseTable`,
        { details: { table, contracts: [owner.plan.contractId, contract.id] } },
      );
    }
    const wanted = fieldsOf(contract, contract.properties, '', options);
    const columns = owner ? mergeColumns(contract, table, owner.columns, wanted) : wanted;
    const ownFields = new Map(owner?.plan.ownFields);
    ownFields.set(contract, new Map(wanted.map((f) => [f.name, f])));
    plans.set(table, {
      plan: { table, contractId: contract.id, columns, versions: [...(owner?.plan.versions ?? []), contract], ownFields },
      columns,
    });
  }
  return [...plans.values()].map((p) => p.plan);
}

/**
 * Merges the columns a table has with those a contract version wants; see {@link mergeTypes}.
 * Throws `SCHEMA_INCOMPATIBLE` naming the contract, version, table and change.
 */
export function mergeColumns(contract: Contract, table: string, existing: readonly Field[], wanted: readonly Field[]): Field[] {
  const out: Field[] = [];
  for (const column of existing) {
    const next = wanted.find((w) => w.name === column.name);
    if (!next) {
      out.push(column);
      continue;
    }
    const merged = mergeFields(column, next, column.name);
    if ('conflict' in merged) throw incompatible(contract, table, merged.conflict);
    out.push(merged);
  }
  for (const w of wanted) if (!existing.some((c) => c.name === w.name)) out.push(w);
  return out;
}

/** The error for a contract version its table cannot take. */
export function incompatible(contract: Contract, table: string, change: string): HeraldError {
  return new HeraldError(
    ErrorCodes.SCHEMA_INCOMPATIBLE,
    `contract '${contract.id}' version ${contract.version} cannot load into warehouse table '${table}': column ${change}; ` +
      `keep the column's type, or set customProperty warehouseEvolution: versionedTable to load each major version into its own table`,
    { details: { contract: contract.id, version: contract.version, table, change } },
  );
}

function fieldsOf(contract: Contract, props: readonly OdcsProperty[], path: string, options: PlanOptions): Field[] {
  const fields: Field[] = [];
  for (const p of props) {
    const where = `${path}${p.name}`;
    // An array whose items are personal is treated as one personal value.
    const treatment = piiTreatmentOf(p) ?? (p.items ? piiTreatmentOf(p.items) : undefined);
    if (treatment !== undefined && !PiiTreatments.includes(treatment as PiiTreatment)) {
      throw contractError(contract, `property '${where}' has piiTreatment '${treatment}'; use one of ${PiiTreatments.join(', ')}`, where);
    }
    if (treatment === 'drop') continue;
    if (treatment === 'hash' && options.piiKey === undefined) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `contract '${contract.id}' version ${contract.version} hashes personal property '${where}', which needs a key: set HERALD_PII_KEY (loader option piiKey), or give the property piiTreatment mask or drop`,
        { details: { contract: contract.id, version: contract.version, property: where, option: 'piiKey' } },
      );
    }
    const name = p.physicalName ?? snakeCase(p.name);
    if (!NAME.test(name) || fields.some((f) => f.name === name)) {
      throw contractError(
        contract,
        `property '${where}' becomes warehouse column '${name}', which is ${NAME.test(name) ? 'taken by another property' : 'not a lowercase SQL identifier'}; set its physicalName`,
        where,
      );
    }
    const type =
      treatment === undefined
        ? typeOfProperty(p, (nestedProps) => fieldsOf(contract, nestedProps, `${where}.`, options))
        : { kind: 'varchar' as const };
    fields.push(
      treatment === undefined ? { name, property: p.name, type } : { name, property: p.name, type, pii: treatment as 'hash' | 'mask' },
    );
  }
  return fields;
}

/** `property` is the dotted property path (`recipient.name`), for tools that point at the line. */
function contractError(contract: Contract, reason: string, property: string): HeraldError {
  return new HeraldError(ErrorCodes.CONTRACT_INVALID, `invalid contract ${contract.file}: ${reason}`, {
    details: { contract: contract.id, version: contract.version, file: contract.file, property },
  });
}
