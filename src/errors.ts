/**
 * Every error Herald raises is a {@link HeraldError} with a `code` from {@link ErrorCodes}.
 * Messages are lowercase, name the thing that failed and say what to do; they never contain
 * payloads, SQL parameters or secrets (those go to `details` only when debug is on).
 */

/** The single list of error codes. Callers switch on these, never on message text. */
export const ErrorCodes = {
  /** A configuration option or flag is missing or has the wrong shape. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** A contract file cannot be parsed or does not follow the contract format. */
  CONTRACT_INVALID: 'CONTRACT_INVALID',
  /** No contract with the requested name (and version) is loaded. */
  CONTRACT_NOT_FOUND: 'CONTRACT_NOT_FOUND',
  /** A payload does not satisfy its contract; nothing was written. */
  EVENT_INVALID: 'EVENT_INVALID',
  /** The caller passed something that is not an open transaction. */
  TRANSACTION_REQUIRED: 'TRANSACTION_REQUIRED',
  /** A database statement failed. */
  DATABASE_ERROR: 'DATABASE_ERROR',
  /** The outbox tables are missing: `herald migrate` has not been run. */
  NOT_MIGRATED: 'NOT_MIGRATED',
  /** The broker cannot be reached at all; nothing about any single event is known. */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** The broker refused the events for a reason that may pass on retry. */
  PUBLISH_FAILED: 'PUBLISH_FAILED',
  /** The broker refused the events for a reason that retrying will not fix. */
  PUBLISH_REJECTED: 'PUBLISH_REJECTED',
  /** A destination topic does not exist and Herald was not allowed to create it. */
  TOPIC_NOT_FOUND: 'TOPIC_NOT_FOUND',
  /** PostgreSQL invalidated the logical relay's replication slot; it must be recreated. */
  SLOT_INVALIDATED: 'SLOT_INVALIDATED',
  /** A warehouse table cannot take a contract version without an incompatible change. */
  SCHEMA_INCOMPATIBLE: 'SCHEMA_INCOMPATIBLE',
  /** The database role lacks a privilege or attribute the operation needs. */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /**
   * The relay lost the lease (or the broker fenced its producer) under which it read a batch:
   * another relay owns those events now. Nothing of the batch was recorded; the relay drops it
   * and rebalances. Retryable.
   */
  LEASE_LOST: 'LEASE_LOST',
  /** The component was used after `close()`. */
  CLOSED: 'CLOSED',
} as const;

/** One of the codes in {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Options for {@link HeraldError}. */
export interface HeraldErrorOptions {
  /** Whether trying the same operation again may succeed. Defaults to false. */
  readonly retryable?: boolean;
  /** The underlying error, kept for debugging. */
  readonly cause?: unknown;
  /** Structured facts (contract, version, JSON path, file, line...). Never payloads. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error class of Herald. `retryable` tells a relay or a caller whether the same
 * operation may succeed later; `code` is stable across versions.
 */
export class HeraldError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HeraldError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }
}

/** True when `err` is a {@link HeraldError}, optionally with the given code. */
export function isHeraldError(err: unknown, code?: ErrorCode): err is HeraldError {
  return err instanceof HeraldError && (code === undefined || err.code === code);
}

/** The message of any thrown value, for logs; never includes a cause's payload. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
