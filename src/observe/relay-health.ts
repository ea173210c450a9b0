import { ErrorCodes, type HeraldError } from '../errors.js';
import type { Publisher } from '../brokers/publisher.js';
import type { RelayObserver } from '../relay/relay.js';
import type { RelaySource } from '../relay/source.js';
import { scrubSecrets } from './scrub.js';
import { Reachability, Readiness, type CheckResult } from './readiness.js';

/** Options of {@link relayReadiness}. */
export interface RelayReadinessOptions {
  readonly source: RelaySource;
  readonly publisher: Publisher;
  /** How often the broker is probed with `publisher.prepare([])`, in ms. Default 10000. */
  readonly brokerProbeMs?: number;
  /** Longest a probe may take before the broker counts as unreachable, in ms. Default 5000. */
  readonly brokerProbeTimeoutMs?: number;
}

/** The readiness of a relay, the observer that feeds it, and the probe to stop at shutdown. */
export interface RelayReadiness {
  readonly readiness: Readiness;
  /** Pass to the `Relay` (with the metrics observer): the relay's own answers feed the checks. */
  readonly observer: RelayObserver;
  /** The database reachability, also fed by the outbox status monitor. */
  readonly database: Reachability;
  /** Starts the broker probe (first probe at once). */
  start(): void;
  stop(): void;
}

/**
 * A relay's `/readyz`: `database` (the relay's last database answer, or the status monitor's),
 * `broker` (the last publish and the last probe: a publish that found the broker unreachable
 * keeps it not ready until a publish succeeds, because probing alone cannot prove events flow),
 * and `leases` or `slot` (this relay holds at least one bucket lease, or streams its slot).
 * Every check reads memory; the only I/O is the broker probe on its own timer.
 */
export function relayReadiness(options: RelayReadinessOptions): RelayReadiness {
  const database = new Reachability();
  const probe = new Reachability();
  let publishFailure: string | undefined;
  const broker = (): CheckResult => {
    const probed = probe.result();
    if (publishFailure !== undefined) return { ...probed, ok: false, error: publishFailure };
    return probed;
  };
  const readiness = new Readiness().add('database', () => database.result()).add('broker', broker);
  const ownership = options.source.ownership?.bind(options.source);
  if (ownership) {
    const slot = ownership().slot !== undefined;
    readiness.add(slot ? 'slot' : 'leases', () => {
      const o = ownership();
      if (o.held) return { ok: true, ...o };
      return {
        ...o,
        ok: false,
        error: slot
          ? `not streaming replication slot '${o.slot}'`
          : 'this relay holds no bucket lease (other relays hold them all, or it cannot renew them)',
      };
    });
  }
  const observer: RelayObserver = {
    sourceAnswered: () => database.ok(),
    batchPublished: (_n, _s, ok) => {
      if (ok) {
        publishFailure = undefined;
        probe.ok();
      }
    },
    paused: (err: HeraldError) => {
      if (err.code === ErrorCodes.BROKER_UNAVAILABLE) publishFailure = scrubSecrets(err);
      else database.failed(scrubSecrets(err));
    },
  };
  const every = options.brokerProbeMs ?? 10_000;
  const timeoutMs = options.brokerProbeTimeoutMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  let probing = false;
  const runProbe = async (): Promise<void> => {
    if (probing) return;
    probing = true;
    let timeout: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        options.publisher.prepare([]),
        new Promise((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`${options.publisher.name}: no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      probe.ok();
    } catch (err) {
      probe.failed(scrubSecrets(err));
    } finally {
      clearTimeout(timeout);
      probing = false;
    }
  };
  return {
    readiness,
    observer,
    database,
    start() {
      void runProbe();
      timer = setInterval(() => void runProbe(), every);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}

/** Calls each observer's hooks in turn, so metrics and health can watch one relay. */
export function combineObservers(...observers: RelayObserver[]): RelayObserver {
  const all = <K extends keyof RelayObserver>(k: K) =>
    observers.map((o) => o[k]).filter((f): f is NonNullable<RelayObserver[K]> => f !== undefined);
  const answered = all('sourceAnswered');
  const published = all('batchPublished');
  const paused = all('paused');
  return {
    sourceAnswered: () => {
      for (const f of answered) f();
    },
    batchPublished: (n, s, ok) => {
      for (const f of published) f(n, s, ok);
    },
    paused: (e) => {
      for (const f of paused) f(e);
    },
  };
}
