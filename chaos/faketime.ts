// A relay's wall clock moved while it runs, with libfaketime (Debian package `faketime`): the
// relay reads its offset from a file that the scenario rewrites, so the jump happens mid-run.
// The monotonic clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC): an NTP step or a VM resume
// moves the wall clock, not CLOCK_MONOTONIC, and that is the fault worth reproducing.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';

/** Where Debian installs libfaketime. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** A clock offset file and the environment that makes a process follow it. */
export class FakeClock {
  readonly #dir: string;
  readonly #file: string;

  constructor() {
    if (!existsSync(LIBFAKETIME)) {
      throw new Error(`${LIBFAKETIME} is missing: apt-get install -y faketime (the clock-jump rows need it)`);
    }
    this.#dir = mkdtempSync(join(tmpdir(), 'herald-chaos-clock-'));
    this.#file = join(this.#dir, 'offset');
    this.set('+0');
    // The relay keeps reading the file until the harness stops it, after the scenario returned.
    onCleanup(
      'fake clock file',
      () => this.close(),
      () => this.close(),
    );
  }

  /** Environment of a process whose wall clock follows {@link set}. */
  get env(): NodeJS.ProcessEnv {
    return {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: this.#file,
      // Re-read the file at most once a second: cheap, and the jump lands within a second.
      FAKETIME_CACHE_DURATION: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    };
  }

  /** The offset from the real clock, in libfaketime's syntax: `+0`, `+10m`, `-600s`. */
  set(offset: string): void {
    writeFileSync(this.#file, `${offset}\n`);
  }

  /** Deletes the offset file (a process still following it then sees the real clock). */
  close(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
