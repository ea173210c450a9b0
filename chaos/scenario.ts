// The interface every row of the chaos matrix implements: one small file per scenario under
// chaos/scenarios/, listed in chaos/scenarios/index.ts. The harness (harness.ts) gives each run a
// fresh schema, topic and workload; the scenario only starts relays, injects its fault and says
// when the fault ended.
import type { FaultProxy } from './fault-proxy.js';
import type { RelayProcess } from './relay-process.js';
import type { PrivateKafka } from './services/kafka.js';
import type { PrivatePostgres } from './services/postgres.js';
import type { WorkloadOptions } from './writers.js';

/** How the relay reads the outbox. */
export type SourceKind = 'polling' | 'logical';

/** Which broker the relays publish to: the private Kafka, or the machine's RabbitMQ (127.0.0.1:5672). */
export type BrokerKind = 'kafka' | 'rabbitmq';

/**
 * Why a violation is allowed in this row. A row without a reason for duplicates fails on any
 * duplicate; likewise for reorders. Lost events and delivered rollbacks are never allowed.
 */
export interface Allowances {
  readonly duplicates?: string;
  readonly reorders?: string;
}

/** One row (per source) of the matrix. */
export interface Scenario {
  /** Unique kebab-case name, used by `--only`. */
  readonly name: string;
  /** What the fault is, for the table. */
  readonly title: string;
  /** The relay sources this row runs with. */
  readonly sources: readonly SourceKind[];
  /** The brokers this row runs against (each with every source); default `['kafka']`. */
  readonly brokers?: readonly BrokerKind[];
  /** Sources run by `--quick` (CI, Kafka only); absent: not in the quick subset. */
  readonly quick?: readonly SourceKind[];
  /** What the row expects, in a few words ("0 lost; dups allowed"), for the table. */
  readonly expected: string;
  /** Why duplicates or reorders are allowed, possibly per source. */
  readonly allowed?: Allowances | ((source: SourceKind, broker: BrokerKind) => Allowances);
  /** Workload overrides (writers, rate, rollbacks, long transactions). */
  readonly workload?: Partial<WorkloadOptions>;
  /**
   * Injects the fault. Writers are already running when it is called; it must start at least one
   * relay, call `ctx.faultEnded()` when the fault is over (that also stops the writers), and return
   * within about 60 s. The harness then waits for recovery, stops every relay and checks.
   */
  run(ctx: ScenarioContext): Promise<void>;
}

/** Options of {@link ScenarioContext.startRelay}. */
export interface RelayOptions {
  /** Label in notes and logs; default relay-a, relay-b, ... */
  readonly name?: string;
  /** More `herald relay` flags; they come after the harness defaults, so they win. */
  readonly args?: readonly string[];
  /** Wait for 'relay started' (default true). */
  readonly wait?: boolean;
  /** Talk to PostgreSQL directly instead of through the PG proxy. */
  readonly directDatabase?: boolean;
  /** Extra environment of the relay process. */
  readonly env?: NodeJS.ProcessEnv;
  /** Log in as this role with this password (see `PrivatePostgres.createPasswordRole`); default postgres, trusted. */
  readonly login?: { readonly user: string; readonly password: string };
}

/** What a scenario gets to work with. Everything is private to the suite and on 127.0.0.1. */
export interface ScenarioContext {
  readonly source: SourceKind;
  readonly broker: BrokerKind;
  readonly schema: string;
  readonly topic: string;
  readonly pg: PrivatePostgres;
  readonly kafka: PrivateKafka;
  /** Between every relay and PostgreSQL. */
  readonly pgProxy: FaultProxy;
  /** Between every relay and Kafka (the broker advertises this proxy on the relay's listener). */
  readonly kafkaProxy: FaultProxy;
  /** Between every relay and this run's broker (`kafkaProxy`, or the RabbitMQ proxy). */
  readonly brokerProxy: FaultProxy;
  /** Starts a relay through both proxies (`herald relay` child process). */
  startRelay(options?: RelayOptions): Promise<RelayProcess>;
  /** Events committed so far, per the writers' ledger. */
  committed(): number;
  /** Ids of the events committed so far (a copy), for checks outside the topic (a warehouse). */
  committedIds(): readonly string[];
  /** Distinct event ids an outside consumer reads now. */
  delivered(): Promise<number>;
  /** Waits until at least `n` distinct events are readable; false after `ms`. */
  waitForDelivered(n: number, ms: number): Promise<boolean>;
  /** Marks the start of the fault (for the notes and the timeline). */
  faultStarted(what: string): void;
  /** Marks the end of the fault and stops the writers; recovery is measured from here. */
  faultEnded(): Promise<void>;
  /** Records an observation, shown under the table and kept in latest.json. */
  note(text: string): void;
  sleep(ms: number): Promise<void>;
}

/** The allowances of `scenario` for `source`. */
export function allowancesOf(scenario: Scenario, source: SourceKind, broker: BrokerKind = 'kafka'): Allowances {
  const a = scenario.allowed;
  return typeof a === 'function' ? a(source, broker) : (a ?? {});
}
