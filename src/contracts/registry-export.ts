import type { Contract } from './contract.js';
import { jsonSchemaFiles } from './exports.js';

/** One schema version as a Confluent-compatible schema registry takes it. */
export interface RegistrySubjectVersion {
  /** `<topic>-value` (TopicNameStrategy, what Kafka Connect and most serializers use). */
  readonly subject: string;
  readonly contract: string;
  readonly version: string;
  /** The subject's compatibility level (`PUT /config/<subject>`), the contract's `compatibility`. */
  readonly compatibility: Contract['compatibility'];
  /** The body of `POST /subjects/<subject>/versions`. */
  readonly request: { readonly schemaType: 'JSON'; readonly schema: string };
}

/**
 * Every contract version as a schema-registry registration, oldest first per subject: the same
 * draft-07 JSON Schema as `--format jsonschema`, serialised as the registry's `schema` string,
 * under the topic's value subject, with the contract's compatibility level (Herald's modes have
 * the registry's names). Registering them in this order lets the registry's own check confirm
 * what `herald contract check` already decided. Not verified against a running registry here.
 */
export function registrySubjects(contracts: readonly Contract[]): RegistrySubjectVersion[] {
  return jsonSchemaFiles(contracts).map(({ contract: c, schema }) => ({
    subject: `${c.topic}-value`,
    contract: c.id,
    version: c.version,
    compatibility: c.compatibility,
    request: { schemaType: 'JSON', schema: JSON.stringify(schema) },
  }));
}
