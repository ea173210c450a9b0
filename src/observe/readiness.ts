/** One readiness check's answer, as `/readyz` shows it. */
export interface CheckResult {
  readonly ok: boolean;
  /** What is wrong, in one line a person can act on; only when not ok. */
  readonly error?: string;
  /** Facts that help (leased buckets, the slot, when the check last passed). */
  readonly [fact: string]: unknown;
}

/** A named check: read at each `/readyz` request, so it must be cheap and never do I/O. */
export type ReadinessCheck = () => CheckResult;

/** The body of `/readyz`. */
export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/**
 * Readiness of a long-running command: ready only when every check passes. Checks read state the
 * command already keeps (its last database answer, its last broker outcome, its leases), so a
 * probe never adds load to the database or the broker, however often it is called.
 */
export class Readiness {
  readonly #checks = new Map<string, ReadinessCheck>();

  /** Adds (or replaces) the check called `name`. */
  add(name: string, check: ReadinessCheck): this {
    this.#checks.set(name, check);
    return this;
  }

  /** Runs every check; a check that throws counts as failed with its message. */
  report(): ReadinessReport {
    const checks: Record<string, CheckResult> = {};
    for (const [name, check] of this.#checks) {
      try {
        checks[name] = check();
      } catch (err) {
        checks[name] = { ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}

/**
 * The last known state of a dependency (the database, the broker), fed by what the command
 * observes. `unknown` until the first observation, which keeps a starting process not ready.
 */
export class Reachability {
  #ok: boolean | undefined;
  #error = 'not checked yet';
  #since = Date.now();
  #lastOkAt: number | undefined;

  /** The dependency answered. */
  ok(): void {
    if (this.#ok !== true) this.#since = Date.now();
    this.#ok = true;
    this.#lastOkAt = Date.now();
  }

  /** The dependency could not be reached; `error` must already be free of secrets. */
  failed(error: string): void {
    if (this.#ok !== false) this.#since = Date.now();
    this.#ok = false;
    this.#error = error;
  }

  /** The state as a readiness check result. */
  result(): CheckResult {
    const lastOk = this.#lastOkAt === undefined ? {} : { lastOkAt: new Date(this.#lastOkAt).toISOString() };
    if (this.#ok === true) return { ok: true, ...lastOk };
    return { ok: false, error: this.#error, since: new Date(this.#since).toISOString(), ...lastOk };
  }
}
