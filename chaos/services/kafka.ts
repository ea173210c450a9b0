// A private single-node Kafka (KRaft) broker for the chaos suite, started from the jars that
// scripts/services.sh caches (HERALD_CACHE, default ~/.cache/herald): its own data directory and
// ports, so that SIGKILL and restart never touch the machine's shared broker.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  openSync,
  closeSync,
  statSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from '../cleanup.js';
import { alive, freePort, run, waitUntil } from '../util.js';

/** Options of {@link PrivateKafka.start}. */
export interface PrivateKafkaOptions {
  /**
   * Port of the listener that clients reach through a fault proxy: the broker advertises this
   * port on that listener, so a client that came through the proxy stays behind it for every
   * connection the metadata tells it to open. Required: the proxy is started first.
   */
  readonly proxiedPort: number;
  /** Longest wait for the broker to serve, in ms. Default 90000. */
  readonly startTimeoutMs?: number;
}

/** A Kafka version whose jars are cached completely, newest first; throws naming the script to run. */
function cachedKafka(): { version: string; libs: string } {
  const cache = process.env.HERALD_CACHE ?? join(homedir(), '.cache', 'herald');
  const dirs = existsSync(cache) ? readdirSync(cache).filter((d) => /^kafka-\d/.test(d)) : [];
  const complete = dirs
    .filter((d) => existsSync(join(cache, d, 'libs', '.complete')))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  const wanted = process.env.HERALD_KAFKA_VERSION;
  const pick = wanted ? complete.find((d) => d === `kafka-${wanted}`) : complete[0];
  if (!pick) throw new Error(`no cached Kafka jars in ${cache} (kafka-*/libs/.complete): run 'npm run services' once to download them`);
  return { version: pick.slice('kafka-'.length), libs: join(cache, pick, 'libs') };
}

/** A URL-safe base64 UUID that does not start with '-' (it would be read as an option). */
function clusterId(): string {
  for (;;) {
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
      .toString('base64')
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '');
    if (!id.startsWith('-')) return id;
  }
}

/** Marks our JVM on its command line, so nobody mistakes it for the shared broker. */
const OWNER_MARK = '-Dherald.chaos.kafka=1';

/**
 * A single-node KRaft broker (broker + controller) on 127.0.0.1 with two client listeners:
 * `PLAINTEXT` on {@link bootstrap} for the suite's own admin and checker (never faulted), and
 * `PROXIED` on {@link proxiedListenerPort}, advertised as the proxy's port, for the relay. Topics
 * are never auto-created. {@link kill} SIGKILLs the JVM and {@link start} brings it back on the
 * same data; {@link stop} deletes everything (also on exit and on Ctrl-C).
 */
export class PrivateKafka {
  readonly version: string;
  readonly dir: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly proxiedListenerPort: number;
  readonly proxiedPort: number;
  readonly #libs: string;
  readonly #startTimeoutMs: number;
  #child: ChildProcess | undefined;
  #unregister: (() => void) | undefined;

  private constructor(ports: { port: number; controller: number; proxiedListener: number; proxied: number }, startTimeoutMs: number) {
    const { version, libs } = cachedKafka();
    this.version = version;
    this.#libs = libs;
    this.dir = mkdtempSync(join(tmpdir(), 'herald-chaos-kafka-'));
    this.port = ports.port;
    this.controllerPort = ports.controller;
    this.proxiedListenerPort = ports.proxiedListener;
    this.proxiedPort = ports.proxied;
    this.#startTimeoutMs = startTimeoutMs;
  }

  /** Formats fresh storage and starts the broker; rejects (and deletes it) if it does not serve in time. */
  static async start(options: PrivateKafkaOptions): Promise<PrivateKafka> {
    const ports = { port: await freePort(), controller: await freePort(), proxiedListener: await freePort(), proxied: options.proxiedPort };
    const broker = new PrivateKafka(ports, options.startTimeoutMs ?? 90_000);
    broker.#unregister = onCleanup(
      `private Kafka on ${ports.port}`,
      () => broker.stop(),
      () => broker.#stopSync(),
    );
    try {
      broker.#writeConfig();
      await broker.#java('kafka.tools.StorageTool', ['format', '-t', clusterId(), '-c', join(broker.dir, 'server.properties')]);
      await broker.start();
    } catch (err) {
      await broker.stop();
      throw err;
    }
    return broker;
  }

  /** `127.0.0.1:<port>` of the unfaulted listener. */
  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Whether the JVM is running. */
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Starts the broker on its existing data and waits until it serves; a no-op when it runs. */
  async start(): Promise<void> {
    if (this.running) return;
    const log = join(this.dir, 'broker.log');
    const offset = existsSync(log) ? statSync(log).size : 0;
    const fd = openSync(log, 'a');
    try {
      this.#child = spawn(
        'java',
        [
          ...(process.env.HERALD_CHAOS_KAFKA_HEAP ?? '-Xms128m -Xmx512m').split(' '),
          '-XX:+UseG1GC',
          '-XX:MaxGCPauseMillis=20',
          '-XX:TieredStopAtLevel=1',
          '-Djava.awt.headless=true',
          OWNER_MARK,
          `-Dlog4j2.configurationFile=${join(this.#libs, '..', 'config', 'log4j2-broker.properties')}`,
          '-cp',
          `${this.#libs}/*`,
          'kafka.Kafka',
          join(this.dir, 'server.properties'),
        ],
        { stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    const child = this.#child;
    const ready = await waitUntil(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error('exited');
        const text = readFileSync(log, 'utf8').slice(offset);
        return /Kafka Server started|Transition from STARTING to STARTED/.test(text);
      },
      this.#startTimeoutMs,
      250,
    );
    if (!ready) {
      const tail = readFileSync(log, 'utf8').slice(-3000);
      child.kill('SIGKILL');
      throw new Error(`private Kafka on ${this.bootstrap} did not start within ${this.#startTimeoutMs} ms; end of ${log}:\n${tail}`);
    }
  }

  /** SIGKILLs the broker (no clean shutdown: log recovery on the next start); resolves when it is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || !this.running) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }

  /** Kills the broker, deletes its data. Idempotent. */
  async stop(): Promise<void> {
    this.#unregister?.();
    this.#unregister = undefined;
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  #stopSync(): void {
    const pid = this.#child?.pid;
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  async #java(main: string, args: string[]): Promise<void> {
    await run(
      'java',
      [
        '-Xmx256m',
        '-Djava.awt.headless=true',
        `-Dlog4j2.configurationFile=${join(this.#libs, '..', 'config', 'log4j2-tools.properties')}`,
        '-cp',
        `${this.#libs}/*`,
        main,
        ...args,
      ],
      { timeoutMs: 120_000 },
    );
  }

  #writeConfig(): void {
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    const h = '127.0.0.1';
    writeFileSync(
      join(this.dir, 'server.properties'),
      [
        '# Private single-node KRaft broker of the Herald chaos suite (chaos/services/kafka.ts).',
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@${h}:${this.controllerPort}`,
        `listeners=PLAINTEXT://${h}:${this.port},PROXIED://${h}:${this.proxiedListenerPort},CONTROLLER://${h}:${this.controllerPort}`,
        // The proxied listener advertises the proxy: the relay's every connection goes through it.
        `advertised.listeners=PLAINTEXT://${h}:${this.port},PROXIED://${h}:${this.proxiedPort}`,
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        `log.dirs=${join(this.dir, 'data')}`,
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'share.coordinator.state.topic.replication.factor=1',
        'share.coordinator.state.topic.min.isr=1',
        'min.insync.replicas=1',
        'offsets.topic.num.partitions=2',
        'transaction.state.log.num.partitions=2',
        'auto.create.topics.enable=false',
        'num.partitions=4',
        'group.initial.rebalance.delay.ms=0',
        '',
      ].join('\n'),
    );
  }
}
