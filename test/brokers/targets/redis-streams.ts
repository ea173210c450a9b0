import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { RedisStreamsPublisher } from '../../../src/brokers/redis-streams/publisher.js';
import { uniqueName, waitFor } from '../../support/services.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

const run = promisify(execFile);
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const PREFIX = 'herald-conformance:';

// Read back with ioredis directly, not with Herald's publisher.
export const reader = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
reader.on('error', () => undefined);
const created: string[] = [];

/** Disconnects the reader; whoever imports this module calls it once, in `afterAll`. */
export function closeRedisTarget(): void {
  reader.disconnect();
}

/** An XRANGE entry's flat field list as a record. */
function fieldsOf(flat: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

function received(flat: string[]): ReceivedMessage {
  const f = fieldsOf(flat);
  const attributes: Record<string, string> = { id: f.id! };
  for (const [name, value] of Object.entries(f)) if (name.startsWith('ce_')) attributes[name.slice(3)] = value;
  return { id: f.id!, data: f.data!, attributes, dedupId: f.id! };
}

async function readStream(topic: string, atLeast: number, timeoutMs = 3_000): Promise<ReceivedMessage[]> {
  let entries: [string, string[]][] = [];
  await waitFor(async () => (entries = await reader.xrange(PREFIX + topic, '-', '+')).length >= atLeast, timeoutMs, 100);
  return entries.map(([, flat]) => received(flat));
}

/**
 * Restarts the local redis-server without losing its data, then puts it back as it was.
 *
 * It runs daemonized from command-line options with `save ""` and no AOF, so a plain restart
 * would lose every stream. `SHUTDOWN SAVE` writes one RDB snapshot into its `dir`; the new
 * process, started with the same options, loads it; the snapshot is then deleted (unless one was
 * there before) so that the server again keeps nothing on disk. The full `CONFIG GET *` is
 * compared before and after, and any setting the options did not restore is set back.
 */
async function restartRedis(): Promise<void> {
  const before = fieldsOf((await reader.config('GET', '*')) as string[]);
  const get = (name: string): string => before[name] ?? '';
  const snapshot = join(get('dir'), get('dbfilename'));
  const hadSnapshot = existsSync(snapshot);
  const args = ['port', 'bind', 'dir', 'dbfilename', 'logfile', 'pidfile', 'save', 'appendonly', 'daemonize'].flatMap((name) => {
    const value = get(name);
    // Multi-value settings (bind) are separate arguments; an empty one (save) stays one argument.
    return [`--${name}`, ...(value === '' ? [''] : value.split(' '))];
  });
  await run('redis-cli', ['-p', get('port'), 'shutdown', 'save']).catch(() => undefined);
  const down = await waitFor(
    () =>
      run('redis-cli', ['-p', get('port'), 'ping']).then(
        () => false,
        () => true,
      ),
    15_000,
  );
  if (!down) throw new Error('redis-server did not stop within 15 s');
  // Started from / as the original was (INFO reports its executable as /redis-server).
  await run('redis-server', args, { cwd: '/' });
  const up = await waitFor(
    () =>
      run('redis-cli', ['-p', get('port'), 'ping']).then(
        (r) => r.stdout.trim() === 'PONG',
        () => false,
      ),
    15_000,
  );
  if (!up) throw new Error('redis-server did not come back within 15 s');
  if (!hadSnapshot) rmSync(snapshot, { force: true });
  const after = fieldsOf((await reader.config('GET', '*')) as string[]);
  for (const [name, value] of Object.entries(before)) {
    if (after[name] !== value) await reader.config('SET', name, value);
  }
  expect(fieldsOf((await reader.config('GET', '*')) as string[])).toEqual(before);
}

/** The machine's redis-server: `topic()` makes an empty stream under `PREFIX`, deleted in `cleanup`. */
export const redisStreamsTarget: ConformanceTarget = {
  name: 'redis streams',
  publisher: () => new RedisStreamsPublisher({ url: REDIS_URL, keyPrefix: PREFIX, ackTimeoutMs: 5_000, connectTimeoutMs: 2_000 }),
  unreachablePublisher: () => new RedisStreamsPublisher({ url: 'redis://127.0.0.1:1', ackTimeoutMs: 1_500, connectTimeoutMs: 500 }),
  topic: async () => {
    const topic = uniqueName('topic');
    // An empty stream: created by XADD, its only entry deleted.
    const id = await reader.xadd(PREFIX + topic, '*', 'created', 'by-test');
    await reader.xdel(PREFIX + topic, id!);
    created.push(PREFIX + topic);
    return topic;
  },
  read: readStream,
  ordersPerKey: true,
  permanentRejection: async (publisher) => {
    const topic = uniqueName('not-a-stream');
    created.push(PREFIX + topic);
    await reader.set(PREFIX + topic, 'a string, not a stream');
    return publisher.publish([outgoing(topic, 'k', 0)]).then(
      () => undefined,
      (e: unknown) => e,
    );
  },
  restart: restartRedis,
  cleanup: async () => {
    if (created.length > 0) await reader.del(...created.splice(0));
  },
};
