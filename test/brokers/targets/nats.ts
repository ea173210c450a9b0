import { spawn } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { NatsPublisher } from '../../../src/brokers/nats/publisher.js';
import { uniqueName, waitFor } from '../../support/services.js';
import { alive, commandLineOf, stopProcess } from '../../support/processes.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

/** The machine's nats-server with JetStream (see `restartNats` for how it runs). */
const NATS = process.env.HERALD_TEST_NATS ?? 'nats://127.0.0.1:4222';

/** Runs `fn` on a fresh connection of the nats client itself (not Herald's), closed afterwards. */
async function withNats<T>(fn: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: NATS, timeout: 2000 });
  try {
    return await fn(nc, await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Streams made by `topic()`, deleted in `cleanup`. */
const streams: string[] = [];

/** A fresh subject captured by a fresh stream of its own. */
async function freshTopic(): Promise<string> {
  const name = uniqueName('conformance');
  const subject = name.replace('_', '.');
  await withNats((_, jsm) => jsm.streams.add({ name, subjects: [subject] }));
  streams.push(name);
  return subject;
}

/** `ce-*` headers back to CloudEvents attribute names. */
function toReceived(m: JsMsg): ReceivedMessage {
  const attributes: Record<string, string> = {};
  for (const key of m.headers?.keys() ?? []) if (key.startsWith('ce-')) attributes[key.slice(3)] = m.headers!.get(key);
  return { id: attributes.id!, data: m.string(), attributes, dedupId: m.headers?.get('Nats-Msg-Id') };
}

/**
 * Everything the stream capturing `topic` holds, from the start, read with an ordered consumer.
 * The stream is the topic's own, so its message count says how many to expect and no subject
 * filter is needed (filter_subjects needs nats-server 2.10; this machine runs 2.9).
 */
async function readTopic(topic: string, atLeast: number, timeoutMs = 5000): Promise<ReceivedMessage[]> {
  return withNats(async (nc, jsm) => {
    const stream = await jsm.streams.find(topic);
    let count = 0;
    await waitFor(async () => (count = (await jsm.streams.info(stream)).state.messages) >= atLeast, timeoutMs, 100);
    const consumer = await jetstream(nc).consumers.get(stream);
    const received: ReceivedMessage[] = [];
    while (received.length < count) {
      const before = received.length;
      for await (const m of await consumer.fetch({ max_messages: count - received.length, expires: 2000 })) received.push(toReceived(m));
      if (received.length === before) break;
    }
    return received;
  });
}

const fallbackArgs = [
  '/usr/sbin/nats-server',
  '-a',
  '127.0.0.1',
  '-p',
  '4222',
  '-js',
  '-sd',
  '/var/lib/nats-server',
  '-l',
  '/var/log/nats-server.log',
];

/** Whether the server accepts connections and JetStream answers (it has recovered its streams). */
async function natsReady(): Promise<boolean> {
  return withNats(async (_, jsm) => {
    await jsm.getAccountInfo();
    return true;
  }).catch(() => false);
}

/**
 * Restarts the machine's nats-server exactly as it was started (same argv, working directory and
 * environment, read from /proc), so its JetStream store (`-sd`, kept on disk) survives. SIGTERM
 * lets it flush the store; if no server runs, it starts one with the machine's usual arguments.
 */
async function restartNats(): Promise<void> {
  const pid = await pgrepNats();
  let argv = fallbackArgs;
  let cwd = '/';
  let env: NodeJS.ProcessEnv = {};
  if (pid !== undefined) {
    argv = await commandLineOf(pid);
    cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '/');
    env = Object.fromEntries(
      (await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => ''))
        .split('\0')
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    await stopProcess(pid);
  }
  // Detached and unreferenced: the server outlives this test process, as the original did.
  spawn(argv[0]!, argv.slice(1), { cwd, env, detached: true, stdio: 'ignore' }).unref();
  if (!(await waitFor(natsReady, 30_000, 200))) throw new Error(`nats-server did not come back within 30 s: ${argv.join(' ')}`);
}

/** The pid of this machine's nats-server (the only one; nothing else here runs NATS), if one runs. */
async function pgrepNats(): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === 'nats-server' && (await alive(Number(entry)))) return Number(entry);
  }
  return undefined;
}

/** The machine's nats-server with JetStream; `topic()` makes a stream per subject, deleted in `cleanup`. */
export const natsTarget: ConformanceTarget = {
  name: 'nats',
  publisher: () => new NatsPublisher({ url: NATS, ackTimeoutMs: 5000, timeoutMs: 2000 }),
  unreachablePublisher: () => new NatsPublisher({ url: 'nats://127.0.0.1:1', ackTimeoutMs: 1500, timeoutMs: 500 }),
  topic: freshTopic,
  read: readTopic,
  ordersPerKey: true,
  permanentRejection: async (publisher) => {
    const topic = await freshTopic();
    // Over the server's max_payload (1 MiB by default): no stream could ever take it.
    const big = { ...outgoing(topic, 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(1_100_000) }) };
    return publisher.publish([big]).then(
      () => undefined,
      (e: unknown) => e,
    );
  },
  restart: restartNats,
  cleanup: async () => {
    const names = streams.splice(0);
    if (names.length === 0) return;
    await withNats(async (_, jsm) => {
      for (const name of names) await jsm.streams.delete(name).catch(() => undefined);
    });
  },
};
