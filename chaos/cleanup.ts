// Cleanup that runs however the suite ends: normally, on an error, or on Ctrl-C. Private
// services must never outlive the run (a forgotten broker holds ports and 500 MB of memory).

type Task = () => Promise<void> | void;

const tasks: { name: string; run: Task; lastResort?: () => void }[] = [];
let installed = false;
let running: Promise<void> | undefined;

/** On Ctrl-C or SIGTERM: clean up, then exit as the signal would have. */
function onSignal(signal: NodeJS.Signals): void {
  process.stderr.write(`[chaos] ${signal}: stopping private services\n`);
  void cleanUp().finally(() => process.exit(130));
}

/** The `exit` fallback: synchronous last resorts of the tasks that never ran. */
function onExit(): void {
  for (const task of tasks.splice(0).reverse()) {
    try {
      task.lastResort?.();
    } catch {
      // Nothing more can be done while the process exits; the next run's start-up reports it.
    }
  }
}

/**
 * Registers `run` to be called by {@link cleanUp} (last registered, first run). `lastResort`, if
 * given, must be synchronous: it runs from the process's `exit` event when the async cleanup
 * never got to run (e.g. `process.exit()` from elsewhere), and should SIGKILL and delete.
 * Returns a function that removes the task again (the service was stopped normally).
 */
export function onCleanup(name: string, run: Task, lastResort?: () => void): () => void {
  install();
  const task = { name, run, ...(lastResort ? { lastResort } : {}) };
  tasks.push(task);
  return () => {
    const i = tasks.indexOf(task);
    if (i >= 0) tasks.splice(i, 1);
    if (tasks.length === 0) uninstall();
  };
}

/** Runs every registered task once, in reverse order; a failing task is reported, the rest still run. */
export function cleanUp(): Promise<void> {
  running ??= (async () => {
    while (tasks.length > 0) {
      const task = tasks.pop()!;
      try {
        await task.run();
      } catch (err) {
        process.stderr.write(`[chaos] cleanup of ${task.name} failed: ${(err as Error).message}\n`);
        task.lastResort?.();
      }
    }
  })().finally(() => {
    running = undefined;
    uninstall();
  });
  return running;
}

// The handlers exist only while there is something to clean up: a process with no private
// service left keeps the default behaviour of its signals.
function install(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
}

function uninstall(): void {
  if (!installed || tasks.length > 0) return;
  installed = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', onExit);
}
