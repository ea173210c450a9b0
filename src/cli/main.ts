#!/usr/bin/env node
import { Command, Option } from 'commander';
import { isHeraldError } from '../errors.js';
import { migrateCommand } from './commands/migrate.js';
import { relayCommand } from './commands/relay.js';
import { statusCommand } from './commands/status.js';
import { demoCommand } from './commands/demo.js';
import { DemoPatterns, patternDemoCommand } from './commands/demo-patterns.js';
import { HeraldError, ErrorCodes } from '../errors.js';
import { deadLettersCommand } from './commands/dead-letters.js';
import { loadCommand } from './commands/load.js';
import { contractLintCommand } from './commands/contract-lint.js';
import { contractCodegenCommand } from './commands/contract-codegen.js';
import { ContractExportFormats, contractExportCommand } from './commands/contract-export.js';
import { contractDocsCommand } from './commands/contract-docs.js';
import { contractCheckCommand } from './commands/contract-check.js';
import { contractChangelogCommand } from './commands/contract-changelog.js';
import { contractTestCommand } from './commands/contract-test.js';
import { consumeCommand } from './commands/consume.js';
import { reconcileCommand } from './commands/reconcile.js';
import { heraldVersion } from './version.js';
import { consoleCommand } from './commands/console.js';

const program = new Command('herald')
  .description('Publish events from your database to brokers under data contracts, without dual writes.')
  .version(heraldVersion(), '-V, --version', 'print the version of herald and exit')
  .showHelpAfterError()
  .configureHelp({ sortOptions: false });

const common = (cmd: Command): Command =>
  cmd
    .option('--config <file>', 'config file (default: ./herald.config.{json,yaml,yml,mjs,js})')
    .option('--database <url>', 'postgres:// URL of the database with the outbox (env HERALD_DATABASE_URL)')
    .option('--schema <name>', "schema of Herald's tables (env HERALD_SCHEMA)", undefined)
    .option('--json', 'machine-readable output: JSON on stdout, JSON log lines on stderr');

common(program.command('migrate'))
  .description('create or check the outbox, dead-letter and relay tables and the NOTIFY trigger (idempotent; --no-notify drops it)')
  .addOption(new Option('--buckets <n>', 'ordering buckets, fixed at the first migrate (default 32)').argParser(Number))
  .addOption(sourceOption())
  .option('--slot <name>', 'replication slot of the logical relay (default <schema>_relay)')
  .option('--publication <name>', 'publication of the logical relay (default <schema>_outbox)')
  .option('--recreate-slot', 'drop an invalidated slot and create it again (the outbox table backlog is kept)')
  .option('--relay-role <name>', 'role named in the printed grants of the logical relay', 'herald_relay')
  .option('--notify', 'PostgreSQL: create the NOTIFY trigger that wakes polling relays at commit (the default of a new outbox)')
  .option(
    '--no-notify',
    'PostgreSQL: drop the NOTIFY trigger: faster commits, relays find events by their idle poll (kept by later migrates)',
  )
  .action((flags) => migrateCommand(flags));

common(program.command('relay'))
  .description('deliver outbox events to a broker until SIGTERM/SIGINT (drains the batch in flight)')
  .option('--broker <url>', 'kafka:// pubsub:// nats:// amqp:// redis:// mqtt:// or http(s):// URL (env HERALD_BROKER)')
  .option('--kafka <url>', 'kafka://host:port[,host:port], the same as --broker with a kafka:// URL (env HERALD_KAFKA)')
  .option('--contracts <dir>', 'contract folder; its topics are checked at start (env HERALD_CONTRACTS)')
  .option('--create-topics', 'create missing topics (streams, exchanges) instead of failing')
  .addOption(sourceOption())
  .option('--slot <name>', 'replication slot of the logical relay (default <schema>_relay)')
  .option('--publication <name>', 'publication of the logical relay (default <schema>_outbox)')
  .addOption(new Option('--batch-size <n>', 'events per broker batch (default 500)').argParser(Number))
  .addOption(new Option('--max-attempts <n>', 'refusals before an event is dead-lettered (default 10)').argParser(Number))
  .addOption(new Option('--poll-interval <ms>', 'safety-net poll interval (default 2000)').argParser(Number))
  .addOption(
    new Option('--idle-poll <ms>', 'polling, PostgreSQL outbox without NOTIFY trigger: poll interval while idle (default 25)').argParser(
      Number,
    ),
  )
  .addOption(
    new Option('--lease <ms>', 'polling: bucket lease time; a crashed relay holds its keys this long (default 15000)').argParser(Number),
  )
  .addOption(new Option('--heartbeat <ms>', 'logical: idle time before a WAL heartbeat moves the slot (default 10000)').argParser(Number))
  .addOption(new Option('--max-buffered <n>', 'logical: decoded events held in memory at most (default 5000)').argParser(Number))
  .addOption(metricsOption())
  .addOption(
    new Option(
      '--metrics-status-interval <ms>',
      'with --metrics: how often the backlog gauges re-read the outbox status (default 15000)',
    ).argParser(Number),
  )
  .option('--fail-fast', 'exit 1 at start-up when the broker or the database is unreachable, instead of waiting for them')
  .option('--no-kafka-transactions', 'kafka: idempotent producer only; a relay stalled past its lease can then publish late, out of order')
  .option('--debug', 'log debug lines')
  .action((flags) => {
    const relay = {
      batchSize: flags.batchSize,
      maxAttempts: flags.maxAttempts,
      pollIntervalMs: flags.pollInterval,
      leaseMs: flags.lease,
      idlePollMs: flags.idlePoll,
      heartbeatMs: flags.heartbeat,
      maxBufferedEvents: flags.maxBuffered,
    };
    return relayCommand({ ...flags, relay: Object.fromEntries(Object.entries(relay).filter(([, v]) => v !== undefined)) });
  });

common(program.command('status'))
  .description('pending events, age of the oldest, retries and dead letters per topic; the replication slot lag; exit 1 on any warning')
  .option('--slot <name>', 'replication slot of the logical relay (default <schema>_relay)')
  .addOption(
    new Option('--max-lag <bytes>', 'warn when the slot keeps more unconfirmed WAL than this').default(256 * 1024 * 1024).argParser(Number),
  )
  .addOption(new Option('--max-age <seconds>', 'warn when the oldest pending event is older than this').default(300).argParser(Number))
  .option('--exit-zero', 'exit 0 even when there are warnings (they are still printed); errors still exit 1 or 2')
  .option('--watch [seconds]', 'render again every N seconds (default 2) until Ctrl-C, then exit 0')
  .action((flags) => statusCommand(flags));

common(program.command('dead-letters'))
  .description('list dead-lettered events with their last error, or put them back in the outbox with --requeue')
  .option('--requeue', 'move dead letters back into the outbox (all, or those given with --id)')
  .option('--id <event-id...>', 'only these event ids')
  .addOption(new Option('--limit <n>', 'most events to list').default(100).argParser(Number))
  .action((flags) => deadLettersCommand(flags));

common(program.command('console'))
  .description('serve the web console: backlog, delivery rate, relays, dead letters (requeue, drop), the contract catalog')
  .option('--listen <host:port>', 'address to serve on; loopback unless told otherwise (default 127.0.0.1:9465; 0 picks a free port)')
  .option('--token <token>', 'the access token (env HERALD_CONSOLE_TOKEN; default: a random one, printed at start)')
  .option('--contracts <dir>', 'contract folder: payloads masked by its personal-data rules, and the catalog (env HERALD_CONTRACTS)')
  .option('--broker <url>', 'broker URL, shown on the overview (env HERALD_BROKER)')
  .option('--slot <name>', 'replication slot of the logical relay (default <schema>_relay)')
  .action((flags) => consoleCommand(flags));

program
  .command('load')
  .description('load events from a broker into typed warehouse tables, one per contract, until SIGTERM/SIGINT')
  .option('--config <file>', 'config file (default: ./herald.config.{json,yaml,yml,mjs,js})')
  .option('--broker <url>', 'kafka:// pubsub:// nats:// amqp:// or redis:// URL to subscribe to (env HERALD_BROKER)')
  .option(
    '--warehouse <url>',
    'duckdb:<file> or postgres://...[?schema=name] (env HERALD_WAREHOUSE, default duckdb:herald-warehouse.duckdb)',
  )
  .option('--contracts <dir>', 'contract folder: tables, types and personal data come from it (env HERALD_CONTRACTS)')
  .option('--group <name>', 'consumer group / durable subscription name (default herald-loader)')
  .option('--topics <topic...>', "topics to load (default: every contract's topic)")
  .option('--create-subscriptions', 'create missing subscriptions, queues and consumer groups instead of failing')
  .addOption(new Option('--max-batch <n>', 'events per warehouse transaction at most (default 5000)').argParser(Number))
  .addOption(new Option('--max-wait <ms>', 'longest wait to fill a batch (default 200)').argParser(Number))
  .addOption(metricsOption())
  .addOption(
    new Option('--metrics-lag-interval <ms>', 'with --metrics: how often the Kafka consumer lag is read (default 15000)').argParser(Number),
  )
  .option('--json', 'JSON log lines on stderr')
  .option('--debug', 'log debug lines')
  .action((flags) => {
    const load = {
      group: flags.group,
      topics: flags.topics,
      createSubscriptions: flags.createSubscriptions,
      maxBatch: flags.maxBatch,
      maxWaitMs: flags.maxWait,
    };
    return loadCommand({
      config: flags.config,
      broker: flags.broker,
      warehouse: flags.warehouse,
      contracts: flags.contracts,
      metrics: flags.metrics,
      metricsLagInterval: flags.metricsLagInterval,
      json: flags.json,
      debug: flags.debug,
      load: Object.fromEntries(Object.entries(load).filter(([, v]) => v !== undefined)),
    });
  });

program
  .command('consume')
  .description('listen to yourself: apply events from a broker to the database through handlers, once each (inbox), until SIGTERM/SIGINT')
  .option('--config <file>', 'config file (default: ./herald.config.{json,yaml,yml,mjs,js})')
  .option('--database <url>', 'postgres:// or mysql:// URL of the service database (env HERALD_DATABASE_URL)')
  .option('--broker <url>', 'kafka:// pubsub:// nats:// amqp:// or redis:// URL (env HERALD_BROKER)')
  .option('--contracts <dir>', 'contract folder: events are validated against it (env HERALD_CONTRACTS)')
  .requiredOption('--handlers <module>', 'ESM module exporting { [eventType]: (tx, event) => Promise<void> }')
  .option('--group <name>', 'consumer group / durable subscription name (default herald-consumer)')
  .option('--consumer <name>', 'the name the inbox records event ids under (default: the group)')
  .option('--topics <topic...>', 'topics to read (default: those of the contracts that have a handler)')
  .option('--create-subscriptions', 'create missing subscriptions, queues and consumer groups instead of failing')
  .option('--inbox-schema <name>', 'schema of the inbox and its dead-letter table (default herald)')
  .addOption(new Option('--max-batch <n>', 'events per acknowledged batch at most (default 5000)').argParser(Number))
  .addOption(new Option('--max-wait <ms>', 'longest wait to fill a batch (default 200)').argParser(Number))
  .addOption(metricsOption())
  .addOption(
    new Option('--metrics-lag-interval <ms>', 'with --metrics: how often the Kafka consumer lag is read (default 15000)').argParser(Number),
  )
  .option('--json', 'JSON log lines on stderr')
  .option('--debug', 'log debug lines')
  .action(({ maxWait, ...flags }) => consumeCommand({ ...flags, ...(maxWait === undefined ? {} : { maxWaitMs: maxWait }) }));

program
  .command('reconcile')
  .description('compare the events that should exist with what reached the broker and the warehouse; exit 1 on any gap')
  .option('--config <file>', 'config file (default: ./herald.config.{json,yaml,yml,mjs,js})')
  .option('--database <url>', 'postgres:// URL of the service database (env HERALD_DATABASE_URL)')
  .requiredOption('--expected-sql <sql>', 'read-only query returning id, contract (or type) and time of every event that should exist')
  .option('--broker <url>', 'kafka:// URL whose topics to read from the start (env HERALD_BROKER)')
  .option('--kafka <url>', 'the same as --broker with a kafka:// URL (env HERALD_KAFKA)')
  .option('--topics <topic...>', "topics to read (default: the contracts' topics)")
  .option('--warehouse <url>', 'duckdb:<file> or postgres://...?schema= to check as well (env HERALD_WAREHOUSE)')
  .option('--contracts <dir>', 'contract folder: default topics and warehouse tables (env HERALD_CONTRACTS)')
  .option('--window <size>', 'group by event time windows: 30s, 5m, 1h, 1d')
  .option('--since <time>', 'only events at or after this ISO 8601 time')
  .option('--until <time>', 'only events before this ISO 8601 time (leave out what is still on its way)')
  .addOption(new Option('--timeout <ms>', 'longest the Kafka read may take').argParser(Number))
  .option('--json', 'print the whole report as JSON')
  .action(async (flags) => void (await reconcileCommand(flags)));

const contract = program
  .command('contract')
  .description('data contracts: lint, check compatibility, generate code, export, document, test the warehouse');
const contractCommand = (name: string): Command =>
  contract
    .command(name)
    .option('--config <file>', 'config file (default: ./herald.config.{json,yaml,yml,mjs,js})')
    .option('--contracts <dir>', 'contract folder (env HERALD_CONTRACTS)')
    .option('--json', 'machine-readable output');

contractCommand('lint')
  .description('check every contract file: ODCS structure, Herald rules, examples, duplicates (file:line: message; exit 1 on any)')
  .action((flags) => contractLintCommand(flags));

contractCommand('check')
  .description("check each contract version against earlier ones under its compatibility mode (Confluent's meaning); exit 1 on a break")
  .option('--base <ref>', 'also compare with the contracts at this git ref, e.g. origin/main')
  .action((flags) => contractCheckCommand(flags));

contractCommand('changelog')
  .description('print a Markdown changelog of the contract versions: differences and compatibility verdicts')
  .option('--base <ref>', 'only versions new, changed or removed since this git ref, e.g. origin/main')
  .option('--out <file>', 'write it to this file instead of stdout')
  .action(async (flags) => void (await contractChangelogCommand(flags)));

contractCommand('codegen')
  .description('write TypeScript types and a typed append helper per contract version')
  .option('--out <file>', 'the module to write', 'src/generated/contracts.ts')
  .option('--import-from <module>', "where the generated module imports Herald's types from", 'herald')
  .action(async (flags) => void (await contractCodegenCommand(flags)));

contractCommand('export')
  .description('write an AsyncAPI 3 document, JSON Schema files or warehouse DDL')
  .addOption(new Option('--format <format>', 'what to write').choices([...ContractExportFormats]).makeOptionMandatory())
  .option(
    '--out <path>',
    'file (asyncapi, ddl, dbt) or folder (jsonschema, avro, bigquery, registry); default asyncapi.yaml, schemas, warehouse.sql, sources.yml, avro, bigquery, registry',
  )
  .addOption(
    new Option('--dialect <dialect>', 'ddl: the warehouse (default: from --warehouse, else duckdb)').choices(['duckdb', 'postgres']),
  )
  .option('--warehouse <url>', 'ddl: the warehouse URL whose dialect and ?schema= to use (env HERALD_WAREHOUSE)')
  .option('--warehouse-schema <name>', 'ddl for postgres: the schema (default public)')
  .option('--title <title>', 'asyncapi: info.title')
  .option('--api-version <version>', 'asyncapi: info.version')
  .action(async (flags) => void (await contractExportCommand(flags)));

contractCommand('test')
  .description("run each contract's quality rules and SLA against its warehouse table (JUnit with --junit); exit 1 on any failure")
  .option('--warehouse <url>', 'duckdb:<file> or postgres://...[?schema=name] (env HERALD_WAREHOUSE)')
  .option('--junit <file>', 'also write a JUnit XML report here (a testsuite per contract, a testcase per check)')
  .action(async (flags) => void (await contractTestCommand(flags)));

contractCommand('docs')
  .description('render a static HTML catalog of the contracts into <out>/index.html')
  .option('--out <dir>', 'output folder', 'contract-docs')
  .option('--title <title>', 'page title')
  .action(async (flags) => void (await contractDocsCommand(flags)));

program
  .command('demo')
  .description('run the example orders service end to end on embedded PostgreSQL (or SQLite) and DuckDB (no services needed)')
  .option('--kafka <url>', 'deliver through real Kafka, e.g. kafka://127.0.0.1:9092')
  .option('--database <url>', 'use this PostgreSQL instead of the embedded one, or SQLite: sqlite: (a file in --data-dir) or sqlite:path')
  .addOption(new Option('--orders <n>', 'orders to place').default(200).argParser(Number))
  .option('--data-dir <dir>', 'where the embedded database and warehouse live', '.herald/demo')
  .addOption(
    new Option('--pattern <pattern>', 'publish with this pattern through --kafka and end with the reconcile table').choices(DemoPatterns),
  )
  .option('--chaos', 'with --pattern: broker down for a while, an acknowledgement lost, crashes (see the README)')
  .option('--json', 'print the summary as JSON')
  .action(async (flags) => {
    if (flags.pattern === undefined) return demoCommand(flags);
    if (flags.kafka === undefined) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `--pattern needs a broker: pass --kafka kafka://127.0.0.1:9092 (npm run services starts one)`,
        { details: { option: 'kafka' } },
      );
    }
    await patternDemoCommand(flags);
  });

function metricsOption(): Option {
  return new Option(
    '--metrics <[host:]port>',
    'serve /metrics (Prometheus), /healthz and /readyz here; host defaults to 127.0.0.1 (default: off)',
  );
}

function sourceOption(): Option {
  return new Option('--source <source>', 'how the relay reads the outbox (env HERALD_SOURCE, default polling)').choices([
    'polling',
    'logical',
  ]);
}

program.parseAsync().catch((err: unknown) => {
  // One line a person can act on; the stack only with DEBUG=herald.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`herald: ${message}\n`);
  if (process.env.DEBUG?.includes('herald') && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = isHeraldError(err) && err.code === 'CONFIG_INVALID' ? 2 : 1;
});
