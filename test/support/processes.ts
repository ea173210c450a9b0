import { readFile } from 'node:fs/promises';
import { waitFor } from './services.js';

/** The command line a running process was started with, from /proc. */
export async function commandLineOf(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
}

/** Whether `pid` is a live process (a zombie does not count). */
export async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !/^\d+ \(.*\) Z/.test(stat);
}

/**
 * Stops a server the way its service manager would: SIGTERM (it saves its state), and SIGKILL if
 * it is still there after `graceMs`. Resolves once the process is gone; throws if it survives.
 */
export async function stopProcess(pid: number, graceMs = 15_000): Promise<void> {
  process.kill(pid, 'SIGTERM');
  if (await waitFor(async () => !(await alive(pid)), graceMs, 100)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // It exited between the last check and now.
  }
  if (!(await waitFor(async () => !(await alive(pid)), 5_000, 100))) throw new Error(`process ${pid} survived SIGKILL`);
}
