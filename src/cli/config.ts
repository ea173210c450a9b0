import { readFile, access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { HeraldError, ErrorCodes } from '../errors.js';
import { storeKindOf } from '../store/store-url.js';

/** Everything the CLI can be configured with. File < environment < flags. */
export interface HeraldConfig {
  /** URL of the service database that holds the outbox: `postgres://`, `mysql://` or `sqlite:`. */
  database?: string;
  /** Schema of Herald's tables. */
  schema?: string;
  /** Number of ordering buckets (fixed at the first migrate). */
  buckets?: number;
  /** Folder of contract YAML files. */
  contracts?: string;
  /** Where events go: a broker URL (`kafka://`, `pubsub://`, `nats://`, `amqp://`, `redis://`, `mqtt://`, `https://`). */
  broker?: string;
  /** `kafka://host:port[,host:port]`; the same as `broker` with a `kafka://` URL. */
  kafka?: string;
  /** HTTP webhooks: the HMAC-SHA256 secret for the `webhook-signature` header (use the environment, not a file). */
  webhookSecret?: string;
  /** Rename topics at the relay: `{ "<contract topic>": "<broker topic>" }`. */
  topics?: Record<string, string>;
  /** Create missing Kafka topics at relay start. */
  createTopics?: boolean;
  /** Where the relay reads the outbox: `polling` (default) or `logical` (PostgreSQL logical replication). */
  source?: 'polling' | 'logical';
  /** Replication slot of the logical relay (default `<schema>_relay`). */
  slot?: string;
  /** Publication of the logical relay (default `<schema>_outbox`). */
  publication?: string;
  /** The loader's warehouse: `duckdb:<file>` or `postgres://...?schema=name`. */
  warehouse?: string;
  /** HMAC key for personal data the contracts hash (use the environment, not a file). */
  piiKey?: string;
  load?: {
    /** Consumer group / durable name (default `herald-loader`). */
    group?: string;
    /** Topics to load (default: every contract's topic). */
    topics?: string[];
    createSubscriptions?: boolean;
    maxBatch?: number;
    maxWaitMs?: number;
  };
  relay?: {
    heartbeatMs?: number;
    maxBufferedEvents?: number;
    batchSize?: number;
    pollIntervalMs?: number;
    maxAttempts?: number;
    retryBaseMs?: number;
    retryMaxMs?: number;
    leaseMs?: number;
    /** Polling on a PostgreSQL outbox without NOTIFY trigger: ms between polls while idle. */
    idlePollMs?: number;
  };
}

/** Environment variables the CLI reads, and the option each one sets. */
export const ENV_VARS = {
  HERALD_DATABASE_URL: 'database',
  HERALD_SCHEMA: 'schema',
  HERALD_CONTRACTS: 'contracts',
  HERALD_KAFKA: 'kafka',
  HERALD_BROKER: 'broker',
  HERALD_WEBHOOK_SECRET: 'webhookSecret',
  HERALD_SOURCE: 'source',
  HERALD_WAREHOUSE: 'warehouse',
  HERALD_PII_KEY: 'piiKey',
} as const satisfies Record<string, keyof HeraldConfig>;

const CONFIG_FILES = ['herald.config.json', 'herald.config.yaml', 'herald.config.yml', 'herald.config.mjs', 'herald.config.js'];

/**
 * Loads the configuration: the file (explicit `--config`, else the first `herald.config.*` in the
 * working directory), then environment variables, then flags. Environment fallbacks live only
 * here, in the CLI; the library takes explicit options.
 */
export async function loadConfig(
  flags: Partial<HeraldConfig> & { config?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<HeraldConfig> {
  const file = flags.config ?? (await firstExisting(CONFIG_FILES));
  const fromFile = file ? await readConfigFile(file) : {};
  const fromEnv: Partial<HeraldConfig> = {};
  for (const [name, option] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value !== undefined && value !== '') (fromEnv as Record<string, unknown>)[option] = value;
  }
  const fromFlags = Object.fromEntries(Object.entries(flags).filter(([k, v]) => v !== undefined && k !== 'config'));
  const config: HeraldConfig = {
    ...fromFile,
    ...fromEnv,
    ...fromFlags,
    relay: { ...fromFile.relay, ...(fromFlags.relay as object | undefined) },
    load: { ...fromFile.load, ...(fromFlags.load as object | undefined) },
  };
  if (config.database !== undefined) storeKindOf(config.database, 'database');
  if (config.source !== undefined && config.source !== 'polling' && config.source !== 'logical') {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'source' must be 'polling' or 'logical', got '${String(config.source)}'`, {
      details: { option: 'source' },
    });
  }
  return config;
}

/** Returns `config[key]` or throws a `CONFIG_INVALID` that says how to set it. */
export function required<K extends keyof HeraldConfig>(
  config: HeraldConfig,
  key: K,
  flag: string,
  envVar?: string,
): NonNullable<HeraldConfig[K]> {
  const value = config[key];
  if (value === undefined || value === null || value === '') {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      `missing option '${key}': pass ${flag}${envVar ? `, set ${envVar}` : ''} or add '${key}' to herald.config.json`,
      { details: { option: key } },
    );
  }
  return value as NonNullable<HeraldConfig[K]>;
}

async function firstExisting(names: string[]): Promise<string | undefined> {
  for (const name of names) {
    try {
      await access(name);
      return name;
    } catch {
      // not there; try the next name
    }
  }
  return undefined;
}

async function readConfigFile(file: string): Promise<HeraldConfig> {
  try {
    if (file.endsWith('.js') || file.endsWith('.mjs')) {
      const mod = (await import(pathToFileURL(resolve(file)).href)) as { default?: HeraldConfig };
      return mod.default ?? {};
    }
    const text = await readFile(file, 'utf8');
    const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected an object of options');
    return parsed as HeraldConfig;
  } catch (cause) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `cannot read config file '${file}': ${(cause as Error).message}`, {
      cause,
      details: { file },
    });
  }
}
