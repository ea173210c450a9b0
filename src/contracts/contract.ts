/**
 * The in-memory form of one data contract: one event type at one version, loaded from an
 * ODCS v3.1 YAML file. Everything Herald needs at run time is resolved here once, at load.
 */

/** Compatibility modes, with Confluent Schema Registry's meaning. */
export const CompatibilityModes = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;

/** One of {@link CompatibilityModes}. */
export type CompatibilityMode = (typeof CompatibilityModes)[number];

/** An ODCS schema property, as written in the contract file (the subset Herald reads). */
export interface OdcsProperty {
  readonly name: string;
  readonly logicalType?: 'string' | 'date' | 'timestamp' | 'time' | 'number' | 'integer' | 'object' | 'array' | 'boolean';
  readonly logicalTypeOptions?: Readonly<Record<string, unknown>>;
  /** The warehouse column type when it must be exact, e.g. `DECIMAL(12,2)` for money. */
  readonly physicalType?: string;
  /** The warehouse column name; defaults to the property name in snake_case. */
  readonly physicalName?: string;
  readonly required?: boolean;
  readonly description?: string;
  readonly classification?: string;
  readonly examples?: readonly unknown[];
  readonly properties?: readonly OdcsProperty[];
  readonly items?: Omit<OdcsProperty, 'name'> & { readonly name?: string };
  /** ODCS custom properties; Herald reads `piiTreatment` (`hash`, `mask` or `drop`). */
  readonly customProperties?: readonly { readonly property: string; readonly value: unknown }[];
  /** ODCS: the values are unique. `herald contract test` checks it in the warehouse. */
  readonly unique?: boolean;
  /** ODCS quality rules; an `invalidValues` rule with `arguments.validValues` makes an enum. */
  readonly quality?: readonly OdcsQualityRule[];
}

/**
 * One ODCS quality rule, as written in the contract file (the subset Herald reads). A library
 * rule has a `metric` (`rowCount`, `nullValues`, `missingValues`, `invalidValues`,
 * `duplicateValues`) and exactly one comparison operator; the ODCS schema checks both at load.
 */
export interface OdcsQualityRule {
  readonly id?: string;
  readonly name?: string;
  readonly description?: string;
  /** `library` (the default when `metric` is set), `text`, `sql` or `custom`. */
  readonly type?: string;
  readonly metric?: string;
  /** The ODCS v3.0 name of `metric`, still accepted. */
  readonly rule?: string;
  readonly arguments?: Readonly<Record<string, unknown>>;
  /** `rows` (default) or `percent`. */
  readonly unit?: string;
  readonly mustBe?: unknown;
  readonly mustNotBe?: unknown;
  readonly mustBeGreaterThan?: number;
  readonly mustBeGreaterOrEqualTo?: number;
  readonly mustBeLessThan?: number;
  readonly mustBeLessOrEqualTo?: number;
  readonly mustBeBetween?: readonly [number, number];
  readonly mustNotBeBetween?: readonly [number, number];
}

/**
 * How the warehouse loader evolves a contract's table: `addColumns` (default) adds the columns of
 * compatible new versions and refuses an incompatible one; `versionedTable` gives each major
 * version its own table, `<table>_v<major>`.
 */
export const WarehouseEvolutions = ['addColumns', 'versionedTable'] as const;

/** One of {@link WarehouseEvolutions}. */
export type WarehouseEvolution = (typeof WarehouseEvolutions)[number];

/**
 * An ODCS service-level agreement property, as written in the contract's `slaProperties`, e.g.
 * `{ property: 'freshness', value: 5, unit: 's' }`. `herald contract test` measures `freshness` and
 * `latency` against the warehouse's `_loaded_at`; the rest are documentation.
 */
export interface SlaProperty {
  readonly property: string;
  readonly value: string | number | boolean | null;
  readonly valueExt?: string | number | boolean | null;
  readonly unit?: string;
  readonly element?: string;
  /** `regulatory`, `analytics` or `operational`. */
  readonly driver?: string;
  readonly description?: string;
  readonly scheduler?: string;
  readonly schedule?: string;
}

/** A loaded, validated contract. Immutable. */
export interface Contract {
  /** The ODCS `id`, e.g. `orders.order-placed`; also the default CloudEvents `type`. */
  readonly id: string;
  readonly name: string;
  /** Semantic version of this contract, e.g. `1.2.0`. */
  readonly version: string;
  readonly status: string;
  readonly owner: string | undefined;
  readonly description: string | undefined;
  /** The CloudEvents `type` of events under this contract. */
  readonly eventType: string;
  /** Default destination topic; a relay's topic mapping may override it. */
  readonly topic: string;
  /** Name of the top-level property whose value becomes the partition key. */
  readonly partitionKey: string;
  readonly compatibility: CompatibilityMode;
  /** The warehouse table (customProperty `warehouseTable`); default: the id with `_` for `.` and `-`. */
  readonly warehouseTable: string;
  /** customProperty `warehouseEvolution`; see {@link WarehouseEvolutions}. */
  readonly warehouseEvolution: WarehouseEvolution;
  /** The contract's service levels (ODCS `slaProperties`), as written in the file; empty when it has none. */
  readonly slaProperties: readonly SlaProperty[];
  /** Top-level properties, as written in the file. */
  readonly properties: readonly OdcsProperty[];
  /** The schema object's own quality rules (`rowCount`, multi-column `duplicateValues`), as written; empty when it has none. */
  readonly quality: readonly OdcsQualityRule[];
  /** JSON Schema (draft-07) of the event's `data`, closed (`additionalProperties: false`). */
  readonly jsonSchema: Readonly<Record<string, unknown>>;
  /** The CloudEvents `dataschema` stamped on every event: `urn:herald:contract:<id>:<version>`. */
  readonly dataschema: string;
  /** The file it was loaded from. */
  readonly file: string;
}

/** The `dataschema` URI of a contract version. */
export function dataschemaOf(id: string, version: string): string {
  return `urn:herald:contract:${id}:${version}`;
}
