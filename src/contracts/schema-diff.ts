/**
 * The JSON Schema differ behind contract compatibility (see `compatibility.ts`), with Confluent
 * Schema Registry's meaning.
 *
 * The differ walks a *writer* schema (the one data was validated against) and a *reader* schema
 * (the one that will validate that data again) and lists every difference with a kind. Each kind
 * is either compatible — a reader with the updated schema still accepts everything the writer's
 * schema accepted — or not; the list of kinds and their verdicts is Confluent's
 * (`io.confluent.kafka.schemaregistry.json.diff.Difference` and `SchemaDiff.COMPATIBLE_CHANGES`
 * in confluentinc/schema-registry), with a few additions marked "Herald" below. Like Confluent,
 * BACKWARD compares (writer = earlier version, reader = new version) and FORWARD swaps the two.
 *
 * The comparison is keyword by keyword, as Confluent's is. That makes it conservative: a change
 * is called compatible only when each keyword alone proves it; a change that is safe only through
 * an interplay of keywords (say `maximum: 10` replaced by `exclusiveMaximum: 11`) is reported as a
 * break. It never calls a breaking change compatible, with two exceptions it inherits from
 * Confluent on purpose: a required property with a `default` is treated as compatible (a reader
 * fills the default in; Herald's validator does not, and Herald's compiler emits no defaults), and
 * `oneOf` is compared like `anyOf` (a value that matches two alternatives is not looked for).
 */

export {
  DifferenceKinds,
  type DifferenceKind,
  type InternalDifference,
  type JsonSchema,
  type SchemaDifference,
} from './schema-diff/kinds.js';
export { diffSchemas, diffWithInverse } from './schema-diff/walk.js';
