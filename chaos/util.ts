// Small helpers the chaos harness shares: waiting, free ports, commands with a time limit.
import { execFile, type ExecFileOptions } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Calls `check` every `everyMs` until it returns true (resolves true) or `ms` have passed
 * (resolves false). A throwing check counts as false: services are expected to fail while they
 * come up.
 */
export async function waitUntil(check: () => Promise<boolean> | boolean, ms: number, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** A TCP port on 127.0.0.1 that nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs a command to completion within `timeoutMs`; rejects with its stderr when it fails. */
export function run(
  command: string,
  args: readonly string[],
  options: ExecFileOptions & { timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const { timeoutMs = 60_000, ...rest } = options;
  return new Promise((resolve, reject) => {
    execFile(command, args, { ...rest, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${String(stderr).slice(-2000)}`));
        return;
      }
      resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Whether `pid` is a live process (a zombie does not count). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return true;
}

/** A short random suffix for schema and topic names, so runs never share them. */
export function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}
