/** A JSON Schema: an object of keywords, or `true` (anything) / `false` (nothing). */
export type JsonSchema = boolean | Readonly<Record<string, unknown>>;

/**
 * Every kind of difference the differ reports, each with its verdict: `true` when a reader using
 * the updated schema still accepts all data valid under the original one (Confluent's
 * `COMPATIBLE_CHANGES`), `false` when some of that data would be refused. Kinds marked Herald are
 * not in Confluent's list; Confluent ignores `format`, and reports the others as `TYPE_CHANGED`.
 */
export const DifferenceKinds = {
  ID_CHANGED: true,
  DESCRIPTION_CHANGED: true,
  TITLE_CHANGED: true,
  DEFAULT_CHANGED: true,
  SCHEMA_ADDED: false,
  SCHEMA_REMOVED: true,
  TYPE_EXTENDED: true,
  TYPE_NARROWED: false,
  TYPE_CHANGED: false,

  MAX_LENGTH_ADDED: false,
  MAX_LENGTH_REMOVED: true,
  MAX_LENGTH_INCREASED: true,
  MAX_LENGTH_DECREASED: false,
  MIN_LENGTH_ADDED: false,
  MIN_LENGTH_REMOVED: true,
  MIN_LENGTH_INCREASED: false,
  MIN_LENGTH_DECREASED: true,
  PATTERN_ADDED: false,
  PATTERN_REMOVED: true,
  PATTERN_CHANGED: false,
  /** Herald: ajv checks `format`, so a new or different format can refuse earlier data. */
  FORMAT_ADDED: false,
  /** Herald. */
  FORMAT_REMOVED: true,
  /** Herald. */
  FORMAT_CHANGED: false,

  MAXIMUM_ADDED: false,
  MAXIMUM_REMOVED: true,
  MAXIMUM_INCREASED: true,
  MAXIMUM_DECREASED: false,
  MINIMUM_ADDED: false,
  MINIMUM_REMOVED: true,
  MINIMUM_INCREASED: false,
  MINIMUM_DECREASED: true,
  EXCLUSIVE_MAXIMUM_ADDED: false,
  EXCLUSIVE_MAXIMUM_REMOVED: true,
  EXCLUSIVE_MAXIMUM_INCREASED: true,
  EXCLUSIVE_MAXIMUM_DECREASED: false,
  EXCLUSIVE_MINIMUM_ADDED: false,
  EXCLUSIVE_MINIMUM_REMOVED: true,
  EXCLUSIVE_MINIMUM_INCREASED: false,
  EXCLUSIVE_MINIMUM_DECREASED: true,
  MULTIPLE_OF_ADDED: false,
  MULTIPLE_OF_REMOVED: true,
  /** The new `multipleOf` is a multiple of the old one: fewer values pass. */
  MULTIPLE_OF_EXPANDED: false,
  /** The old `multipleOf` is a multiple of the new one: more values pass. */
  MULTIPLE_OF_REDUCED: true,
  MULTIPLE_OF_CHANGED: false,

  REQUIRED_ATTRIBUTE_ADDED: false,
  REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED: true,
  REQUIRED_ATTRIBUTE_REMOVED: true,
  MAX_PROPERTIES_ADDED: false,
  MAX_PROPERTIES_REMOVED: true,
  MAX_PROPERTIES_INCREASED: true,
  MAX_PROPERTIES_DECREASED: false,
  MIN_PROPERTIES_ADDED: false,
  MIN_PROPERTIES_REMOVED: true,
  MIN_PROPERTIES_INCREASED: false,
  MIN_PROPERTIES_DECREASED: true,
  /** `additionalProperties` went from `false` to allowed. */
  ADDITIONAL_PROPERTIES_ADDED: true,
  /** `additionalProperties` became `false`. */
  ADDITIONAL_PROPERTIES_REMOVED: false,
  /** `additionalProperties` lost its schema (any value allowed now). */
  ADDITIONAL_PROPERTIES_EXTENDED: true,
  /** `additionalProperties` gained a schema. */
  ADDITIONAL_PROPERTIES_NARROWED: false,
  DEPENDENCY_ARRAY_ADDED: false,
  DEPENDENCY_ARRAY_REMOVED: true,
  DEPENDENCY_ARRAY_EXTENDED: false,
  DEPENDENCY_ARRAY_NARROWED: true,
  DEPENDENCY_ARRAY_CHANGED: false,
  DEPENDENCY_SCHEMA_ADDED: false,
  DEPENDENCY_SCHEMA_REMOVED: true,
  /** A property with a schema added where any value was allowed: earlier data may hold anything there. */
  PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: false,
  PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL: true,
  REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL: false,
  REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL: true,
  /** An optional property added to a closed (or partially open) object: earlier data never had it. */
  OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL: true,
  PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL: true,
  PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL: true,
  /** A property removed from a closed object: earlier data that has it is refused. */
  PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL: false,
  PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,
  PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,

  MAX_ITEMS_ADDED: false,
  MAX_ITEMS_REMOVED: true,
  MAX_ITEMS_INCREASED: true,
  MAX_ITEMS_DECREASED: false,
  MIN_ITEMS_ADDED: false,
  MIN_ITEMS_REMOVED: true,
  MIN_ITEMS_INCREASED: false,
  MIN_ITEMS_DECREASED: true,
  UNIQUE_ITEMS_ADDED: false,
  UNIQUE_ITEMS_REMOVED: true,
  ADDITIONAL_ITEMS_ADDED: true,
  ADDITIONAL_ITEMS_REMOVED: false,
  ADDITIONAL_ITEMS_EXTENDED: true,
  ADDITIONAL_ITEMS_NARROWED: false,
  ITEM_ADDED_TO_OPEN_CONTENT_MODEL: false,
  ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL: true,
  ITEM_ADDED_TO_CLOSED_CONTENT_MODEL: true,
  ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL: true,
  ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL: true,
  ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL: false,
  ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,
  ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: true,
  ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL: false,

  /** Herald (2020-12): `contains` where there was none; some item must match it. */
  CONTAINS_ADDED: false,
  /** Herald: `contains` is gone. */
  CONTAINS_REMOVED: true,
  /** Herald: `contains` accepts more items, and no `maxContains` caps them. */
  CONTAINS_EXTENDED: true,
  /** Herald: `contains` accepts fewer items, so earlier arrays may lack a match. */
  CONTAINS_NARROWED: false,
  /** Herald: `contains` accepts more items while `maxContains` caps how many may match. */
  CONTAINS_CHANGED: false,
  /** Herald (2020-12): `minContains` (1 when absent beside `contains`) changed. */
  MIN_CONTAINS_ADDED: false,
  MIN_CONTAINS_REMOVED: true,
  MIN_CONTAINS_INCREASED: false,
  MIN_CONTAINS_DECREASED: true,
  /** Herald (2020-12): `maxContains` changed. */
  MAX_CONTAINS_ADDED: false,
  MAX_CONTAINS_REMOVED: true,
  MAX_CONTAINS_INCREASED: true,
  MAX_CONTAINS_DECREASED: false,
  /** Herald (2020-12, beside in-place applicators): `unevaluatedProperties` accepts more. */
  UNEVALUATED_PROPERTIES_EXTENDED: true,
  /** Herald: `unevaluatedProperties` accepts less. */
  UNEVALUATED_PROPERTIES_NARROWED: false,
  /** Herald: a keyword that decides which properties are unevaluated changed under a restricting `unevaluatedProperties`. */
  UNEVALUATED_PROPERTIES_SCOPE_CHANGED: false,
  /** Herald (2020-12, beside in-place applicators or `contains`): `unevaluatedItems` accepts more. */
  UNEVALUATED_ITEMS_EXTENDED: true,
  /** Herald: `unevaluatedItems` accepts less. */
  UNEVALUATED_ITEMS_NARROWED: false,
  /** Herald: a keyword that decides which items are unevaluated changed under a restricting `unevaluatedItems`. */
  UNEVALUATED_ITEMS_SCOPE_CHANGED: false,

  ENUM_ARRAY_EXTENDED: true,
  ENUM_ARRAY_NARROWED: false,
  ENUM_ARRAY_CHANGED: false,
  /** Herald: a list of allowed values (`enum` or `const`) where any value was allowed. */
  ENUM_ADDED: false,
  /** Herald: the list of allowed values is gone. */
  ENUM_REMOVED: true,

  /** The combinator changed in a way that accepts more (to `anyOf`, or between singletons). */
  COMBINED_TYPE_EXTENDED: true,
  COMBINED_TYPE_CHANGED: false,
  /** `allOf` has more subschemas. */
  PRODUCT_TYPE_EXTENDED: false,
  /** `allOf` has fewer subschemas, or is gone. */
  PRODUCT_TYPE_NARROWED: true,
  /** `anyOf`/`oneOf` has more alternatives, or a schema became one alternative of them. */
  SUM_TYPE_EXTENDED: true,
  /** `anyOf`/`oneOf` lost an alternative that earlier data may match. */
  SUM_TYPE_NARROWED: false,
  /** Some subschemas have no compatible counterpart on the other side. */
  COMBINED_TYPE_SUBSCHEMAS_CHANGED: false,
  /** `not` forbids more values. */
  NOT_TYPE_EXTENDED: false,
  /** `not` forbids fewer values. */
  NOT_TYPE_NARROWED: true,

  /** Herald: a validation keyword the differ does not model (`contains`, `if`, an unresolved `$ref`...) appeared. */
  KEYWORD_ADDED: false,
  /** Herald: such a keyword is gone. */
  KEYWORD_REMOVED: true,
  /** Herald: such a keyword changed; it cannot be proven compatible. */
  KEYWORD_CHANGED: false,
} as const satisfies Record<string, boolean>;

/** One of the keys of {@link DifferenceKinds}. */
export type DifferenceKind = keyof typeof DifferenceKinds;

/** One difference between a writer's and a reader's schema. */
export interface SchemaDifference {
  readonly kind: DifferenceKind;
  /** `DifferenceKinds[kind]`: whether the reader still accepts everything the writer's schema accepted. */
  readonly compatible: boolean;
  /**
   * Where in the *data* the difference is, as a JSON pointer: `/total`, `/lines/*\/quantity`.
   * `*` stands for every item of an array (and every property an object's `additionalProperties`
   * or `patternProperties` govern); a number is a tuple position; `/` is the whole value.
   */
  readonly path: string;
  /** Where in the schema, Confluent's way: `#/properties/lines/items/properties/quantity/type`. */
  readonly schemaPath: string;
  /** What changed, lowercase, naming the property or keyword; never a data value. */
  readonly message: string;
}

/** A difference with the wording of the opposite edit, for FORWARD reports. */
export interface InternalDifference extends SchemaDifference {
  /** The same difference described from the reader's side (used for FORWARD findings). */
  readonly inverse: string;
}
