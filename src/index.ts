// Herald's public API. Everything exported here is documented where it is defined; nothing is
// re-exported with `export *`, so what is public is a deliberate choice.
export { HeraldError, ErrorCodes, isHeraldError, type ErrorCode, type HeraldErrorOptions } from './errors.js';
export { event, type HeraldEvent, type EventInit } from './event.js';
export {
  CompatibilityModes,
  WarehouseEvolutions,
  type CompatibilityMode,
  type Contract,
  type OdcsProperty,
  type OdcsQualityRule,
  type WarehouseEvolution,
} from './contracts/contract.js';
export { ContractRegistry } from './contracts/registry.js';
export { loadContractDir, parseContract } from './contracts/load.js';
export { PostgresOutbox, type PostgresOutboxOptions, type AppendInput } from './postgres/outbox.js';
export { outboxDefaults, type PostgresOutboxSchemaOptions } from './postgres/schema.js';
export {
  migratePostgres,
  postgresOutboxStatus,
  type MigrateOptions,
  type MigrationResult,
  type OutboxStatus,
  type TopicStatus,
} from './postgres/migrate.js';
export { listDeadLetters, requeueDeadLetters, type DeadLetter } from './postgres/dead-letters.js';
export type { SqlExecutor, SqlDialect } from './store/sql-executor.js';
export { relayGrants, type SlotStatus, type LogicalNamesOptions } from './postgres/logical-setup.js';
export type { Publisher, OutgoingEvent } from './brokers/publisher.js';
export { publisherFor, brokerSchemes, type BrokerOptions } from './brokers/broker-url.js';
export { withTopicMap } from './brokers/topic-map.js';
export { Relay, relayDefaults, type RelayOptions, type RelayStats } from './relay/relay.js';
export type { RelaySource, RelayRecord } from './relay/source.js';
export { PollingSource, pollingDefaults, type PollingSourceOptions } from './postgres/polling-source.js';
export { LogicalSource, logicalDefaults, type LogicalSourceOptions, type LogicalSourceStats } from './postgres/logical-source.js';
export { consoleLogger, silentLogger, type Logger } from './observe/logger.js';
export type { Subscriber, SubscriberBatch, SubscriberOptions, IncomingEvent } from './brokers/subscriber.js';
export { subscriberDefaults } from './brokers/subscriber.js';
export { subscriberFor } from './brokers/broker-url.js';
export { Loader, loaderDefaults, type LoaderOptions, type LoaderStats } from './warehouse/loader.js';
export type { WarehouseSink, WriteResult } from './warehouse/sink.js';
export { deadLetterTable } from './warehouse/sink.js';
export { DuckDbSink, type DuckDbSinkOptions } from './warehouse/duckdb-sink.js';
export { PostgresSink, postgresSinkDefaults, type PostgresSinkOptions } from './warehouse/postgres-sink.js';
export { sinkFor } from './warehouse/warehouse-url.js';
export { WarehousePublisher, type WarehousePublisherOptions } from './warehouse/warehouse-publisher.js';
export { queryDuckDb, countRows } from './warehouse/duckdb-instance.js';
export { PiiTreatments, type PiiTreatment } from './warehouse/pii.js';
export { planTables, metaColumns, loadedAtColumn, type TablePlan } from './warehouse/table-plan.js';
export { runContractTests, type CheckResult, type CheckStatus, type ContractTestOptions } from './warehouse/contract-test.js';
export { planChecks, CheckNames, type CheckName, type PlannedCheck } from './warehouse/contract-checks.js';
export { lintContractDir, type LintIssue, type LintReport } from './contracts/lint.js';
export {
  checkCompatibility,
  checkAll,
  formatFinding,
  type CompatibilityFinding,
  type CompatibilityResult,
  type Direction,
} from './contracts/compatibility.js';
export { diffSchemas, type SchemaDifference, type DifferenceKind, type JsonSchema } from './contracts/schema-diff.js';
export { loadContractsAtRef, checkAgainstBase, type BaseCompatibilityResult } from './contracts/git-base.js';
export { generateContractModule, generatedNames, type CodegenOptions } from './contracts/codegen.js';
export { asyncApiDocument, type AsyncApiOptions, type AsyncApiDocument } from './contracts/asyncapi.js';
export { jsonSchemaFiles, warehouseDdlText, type JsonSchemaFile } from './contracts/exports.js';
export { renderCatalog, type CatalogOptions, type CatalogHistoryEntry } from './contracts/catalog.js';
export { createTableSql, warehouseDdl, type DdlTarget, type WarehouseDialect } from './warehouse/ddl.js';
export { publishDirect, directDefaults, type DirectPublishOptions } from './patterns/direct.js';
export { EagerDispatcher, eagerDefaults, type EagerDispatcherOptions, type DispatchResult } from './postgres/eager-dispatch.js';
export { PostgresInbox, migrateInbox, pruneInbox, inboxDefaults, type InboxOptions } from './postgres/inbox.js';
export { SelfConsumer, selfConsumerDefaults, type EventHandler, type EventHandlers } from './patterns/listen.js';
export {
  reconcile,
  parseWindow,
  type ReconcileReport,
  type ReconcileGroup,
  type ExpectedEvent,
  type ObservedEvent,
} from './patterns/reconcile.js';
export { runReconcile, type ReconcileRunOptions, type ReconcileRun } from './patterns/reconcile-run.js';
export {
  mysqlStore,
  MysqlOutbox,
  MysqlPollingSource,
  migrateMysql,
  mysqlOutboxStatus,
  listMysqlDeadLetters,
  requeueMysqlDeadLetters,
  checkServerVersion,
  type MysqlOutboxOptions,
  type MysqlPollingSourceOptions,
  type MysqlOutboxSchemaOptions,
} from './mysql/index.js';
export { storeFor } from './store/store-url.js';
export type { OutboxStore, OutboxWriter, StoreKind, StoreCapabilities, StoreMigration, StoreOptions, StoreStatus } from './store/port.js';
export { withTransaction, currentTransaction, ambientWriter, type AmbientWriter } from './store/ambient-transaction.js';
export {
  sqliteStore,
  SqliteOutbox,
  SqlitePollingSource,
  migrateSqlite,
  sqliteOutboxStatus,
  listSqliteDeadLetters,
  requeueSqliteDeadLetters,
  checkSqliteVersion,
  type SqliteStore,
  type SqliteOutboxOptions,
  type SqlitePollingSourceOptions,
  type SqliteOutboxSchemaOptions,
} from './sqlite/index.js';
