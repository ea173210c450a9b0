import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { asyncApiDocument } from '../../contracts/asyncapi.js';
import { avroSchema } from '../../contracts/avro.js';
import { bigQuerySchemas } from '../../contracts/bigquery.js';
import { dbtSources } from '../../contracts/dbt.js';
import { contractList, jsonSchemaFiles, warehouseDdlText } from '../../contracts/exports.js';
import { registrySubjects } from '../../contracts/registry-export.js';
import { ContractRegistry } from '../../contracts/registry.js';
import { HeraldError, ErrorCodes } from '../../errors.js';
import { quoteIdent } from '../../postgres/identifiers.js';
import { WarehouseDialects, type DdlTarget, type WarehouseDialect } from '../../warehouse/ddl.js';
import { postgresSinkDefaults } from '../../warehouse/postgres-sink.js';
import { parseWarehouseUrl } from '../../warehouse/warehouse-url.js';
import { loadConfig, required, type HeraldConfig } from '../config.js';
import { printResult } from '../output.js';
import { writeIfChanged } from './contract-codegen.js';

/** What `herald contract export` can write. */
export const ContractExportFormats = ['asyncapi', 'jsonschema', 'ddl', 'avro', 'bigquery', 'dbt', 'registry'] as const;

/** One of {@link ContractExportFormats}. */
export type ContractExportFormat = (typeof ContractExportFormats)[number];

/** Flags of `herald contract export`; defaults in {@link contractExportDefaults}. */
export interface ContractExportFlags extends Pick<HeraldConfig, 'contracts' | 'warehouse'> {
  config?: string;
  format: ContractExportFormat;
  /** `ddl`: the warehouse dialect; default: the one of the `warehouse` option, else `duckdb`. */
  dialect?: WarehouseDialect;
  /** `ddl` for PostgreSQL: the schema; default: `?schema=` of a postgres `warehouse` URL, else `public`. */
  warehouseSchema?: string;
  /** A file (`asyncapi`, `ddl`, `dbt`) or a folder (`jsonschema`, `avro`, `bigquery`, `registry`). */
  out?: string;
  /** `asyncapi`: `info.title`. */
  title?: string;
  /** `asyncapi`: `info.version`, the version of the document. */
  apiVersion?: string;
  json?: boolean;
}

/** The defaults of {@link ContractExportFlags}, in one table: where each format is written. */
export const contractExportDefaults = {
  out: {
    asyncapi: 'asyncapi.yaml',
    jsonschema: 'schemas',
    ddl: 'warehouse.sql',
    avro: 'avro',
    bigquery: 'bigquery',
    dbt: 'sources.yml',
    registry: 'registry',
  },
} as const;

/** What {@link contractExportCommand} did. */
export interface ContractExportResult {
  readonly format: ContractExportFormat;
  /** Every file written or found up to date. */
  readonly files: readonly string[];
  /** The files whose content changed. */
  readonly changed: readonly string[];
}

/**
 * `herald contract export`: writes the contracts in another form. `asyncapi`: an AsyncAPI 3.0.0
 * document, as YAML (JSON when `--out` ends in `.json`), with the relay's `topics` mapping applied
 * to channel addresses. `jsonschema`: one draft-07 file per contract version into the `--out`
 * folder (files of other versions are left alone). `ddl`: the warehouse's `CREATE TABLE`
 * statements, the ones the loader runs. `avro`: one `.avsc` per contract version. `bigquery`: one
 * table schema JSON per warehouse table. `dbt`: a `sources.yml` with tests from the contracts.
 * `registry`: per version, the subject, compatibility and request body of a schema registry.
 * Files whose content would not change are not rewritten.
 */
export async function contractExportCommand(flags: ContractExportFlags): Promise<ContractExportResult> {
  if (!ContractExportFormats.includes(flags.format)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'format' must be one of ${ContractExportFormats.join(', ')}, got '${String(flags.format)}'`,
      { details: { option: 'format' } },
    );
  }
  const config = await loadConfig({
    contracts: flags.contracts,
    warehouse: flags.warehouse,
    ...(flags.config === undefined ? {} : { config: flags.config }),
  });
  const registry = await ContractRegistry.fromDir(required(config, 'contracts', '--contracts', 'HERALD_CONTRACTS'));
  const out = flags.out ?? contractExportDefaults.out[flags.format];
  const written: { file: string; changed: boolean }[] = [];
  const write = async (file: string, text: string): Promise<void> => {
    written.push({ file, changed: await writeIfChanged(file, text) });
  };

  switch (flags.format) {
    case 'asyncapi': {
      const doc = asyncApiDocument(registry, {
        ...(flags.title === undefined ? {} : { title: flags.title }),
        ...(flags.apiVersion === undefined ? {} : { version: flags.apiVersion }),
        ...(config.topics === undefined ? {} : { topics: config.topics }),
      });
      // No anchors and aliases: readers of AsyncAPI files expect plain YAML, and no line folding,
      // so that descriptions and patterns stay on one line.
      await write(
        out,
        out.endsWith('.json') ? `${JSON.stringify(doc, null, 2)}\n` : toYaml(doc, { aliasDuplicateObjects: false, lineWidth: 0 }),
      );
      break;
    }
    case 'jsonschema':
      for (const f of jsonSchemaFiles(registry)) await write(join(out, f.file), `${JSON.stringify(f.schema, null, 2)}\n`);
      break;
    case 'ddl':
      await write(out, warehouseDdlText(registry, ddlTarget(flags, config)));
      break;
    case 'avro':
      for (const c of contractList(registry))
        await write(join(out, `${c.id}-${c.version}.avsc`), `${JSON.stringify(avroSchema(c), null, 2)}\n`);
      break;
    case 'bigquery':
      for (const t of bigQuerySchemas(contractList(registry)))
        await write(join(out, `${t.table}.json`), `${JSON.stringify(t.schema, null, 2)}\n`);
      break;
    case 'dbt': {
      const target = ddlTarget(flags, config);
      const doc = dbtSources(contractList(registry), { schema: target.dialect === 'duckdb' ? 'main' : target.schema });
      await write(
        out,
        `# Generated by \`herald contract export --format dbt\`; regenerate rather than edit.\n${toYaml(doc, { aliasDuplicateObjects: false, lineWidth: 0 })}`,
      );
      break;
    }
    case 'registry':
      for (const r of registrySubjects(contractList(registry)))
        await write(join(out, `${r.subject}-${r.version}.json`), `${JSON.stringify(r, null, 2)}\n`);
      break;
  }
  const result = { format: flags.format, files: written.map((w) => w.file), changed: written.filter((w) => w.changed).map((w) => w.file) };
  printResult(flags.json === true, result, () => written.map((w) => `${w.changed ? 'wrote' : 'up to date:'} ${w.file}`).join('\n'));
  return result;
}

/** The dialect and schema of `--format ddl`: flags first, then the configured warehouse. */
function ddlTarget(flags: ContractExportFlags, config: HeraldConfig): DdlTarget {
  const at = config.warehouse === undefined ? undefined : parseWarehouseUrl(config.warehouse);
  const dialect = flags.dialect ?? at?.dialect ?? 'duckdb';
  if (!WarehouseDialects.includes(dialect)) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `option 'dialect' must be one of ${WarehouseDialects.join(', ')}, got '${String(dialect)}'`,
      {
        details: { option: 'dialect' },
      },
    );
  }
  if (dialect === 'duckdb') return { dialect };
  const schema = flags.warehouseSchema ?? (at?.dialect === 'postgres' ? at.schema : undefined) ?? postgresSinkDefaults.schema;
  quoteIdent(schema, flags.warehouseSchema === undefined ? 'warehouse' : 'warehouseSchema');
  return { dialect, schema };
}
