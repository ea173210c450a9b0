import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { MqttPublisher, fromMqttTopic, parseMqttUrl, toMqttTopic } from '../../src/brokers/mqtt.js';
import { uniqueName, waitFor } from '../support/services.js';
import { outgoing, publisherConformance, type ReceivedMessage } from './conformance.js';

const run = promisify(execFile);
const MQTT_URL = 'mqtt://127.0.0.1:1883';
const PID_FILE = '/run/mosquitto/mosquitto.pid';

/**
 * A subscriber started before anything is published: an MQTT broker keeps nothing for a topic
 * without subscribers. Its session is persistent (clean start off, one hour expiry) and it
 * reconnects by itself, so it also receives what was published while a restart separated it
 * from the broker.
 */
interface Reader {
  readonly client: MqttClient;
  readonly messages: ReceivedMessage[];
}
const readers = new Map<string, Reader>();

function received(payload: Buffer, packet: IPublishPacket): ReceivedMessage {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(packet.properties?.userProperties ?? {})) {
    attributes[name] = Array.isArray(value) ? value.join(',') : value;
  }
  if (packet.properties?.contentType !== undefined) attributes.datacontenttype = packet.properties.contentType;
  return { id: attributes.id!, data: payload.toString('utf8'), attributes };
}

async function startReader(topic: string, mqttTopic: string): Promise<void> {
  const client = await mqtt.connectAsync(MQTT_URL, {
    protocolVersion: 5,
    clientId: uniqueName('herald-reader'),
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
    reconnectPeriod: 200,
  });
  client.on('error', () => undefined);
  const messages: ReceivedMessage[] = [];
  client.on('message', (_topic, payload, packet) => messages.push(received(payload, packet)));
  await client.subscribeAsync(mqttTopic, { qos: 1 });
  readers.set(topic, { client, messages });
}

async function readTopic(topic: string, atLeast: number): Promise<ReceivedMessage[]> {
  const reader = readers.get(topic);
  if (!reader) throw new Error(`no reader for '${topic}'`);
  await waitFor(async () => reader.messages.length >= atLeast, 5_000, 50);
  return [...reader.messages];
}

/**
 * Restarts Mosquitto as it runs here (`mosquitto -d -c /etc/mosquitto/mosquitto.conf`, from its
 * own command line): SIGTERM, which makes it save its persistence file (`persistence true` in that
 * configuration, so sessions and their queued messages survive), then the same command again.
 * Returns once every reader has reconnected.
 */
async function restartMosquitto(): Promise<void> {
  const pid = Number((await readFile(PID_FILE, 'utf8')).trim());
  const [command, ...args] = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a.length > 0);
  process.kill(pid, 'SIGTERM');
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!(await waitFor(async () => !alive(), 15_000, 100))) throw new Error('mosquitto did not stop within 15 s');
  await run(command!, args, { cwd: '/' });
  const back = await waitFor(
    () =>
      mqtt.connectAsync(MQTT_URL, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 1_000 }).then(
        (c) => c.endAsync().then(() => true),
        () => false,
      ),
    15_000,
  );
  if (!back) throw new Error('mosquitto did not come back within 15 s');
  if (!(await waitFor(async () => [...readers.values()].every((r) => r.client.connected), 10_000, 100))) {
    throw new Error('a reader did not reconnect after the mosquitto restart');
  }
}

publisherConformance({
  name: 'mqtt',
  publisher: () => new MqttPublisher({ url: MQTT_URL, ackTimeoutMs: 5_000, connectTimeoutMs: 2_000 }),
  unreachablePublisher: () => new MqttPublisher({ url: 'mqtt://127.0.0.1:1', ackTimeoutMs: 1_500, connectTimeoutMs: 500 }),
  topic: async () => {
    const level = uniqueName('t');
    await startReader(`herald.conformance.${level}`, `herald/conformance/${level}`);
    return `herald.conformance.${level}`;
  },
  read: readTopic,
  ordersPerKey: true,
  // Mosquitto here has no message_size_limit, ACL file or max_qos; its one refusal on this
  // configuration is publishing under $SYS, which it denies to clients (PUBACK 0x87 Not authorized).
  permanentRejection: (publisher) =>
    publisher.publish([outgoing(`$SYS.herald.${uniqueName('t')}`, 'k', 0)]).then(
      () => undefined,
      (e: unknown) => e,
    ),
  restart: restartMosquitto,
  cleanup: async () => {
    for (const { client } of readers.values()) {
      // A session expiry of 0 on DISCONNECT makes the broker forget the persistent session.
      await client.endAsync(false, { properties: { sessionExpiryInterval: 0 } }).catch(() => client.end(true));
    }
    readers.clear();
  },
});

describe('mqtt publisher', () => {
  it("maps '.' to '/' reversibly and refuses topics it could not map back or that hold wildcards", () => {
    expect(toMqttTopic('orders.v1')).toBe('orders/v1');
    expect(fromMqttTopic(toMqttTopic('a..b.'))).toBe('a..b.');
    for (const bad of ['', 'a/b', 'a.+', 'orders.#', 'nul\u0000']) {
      expect(() => toMqttTopic(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    }
  });

  it('refuses a topic with a wildcard as a permanent rejection', async () => {
    const publisher = new MqttPublisher({ url: MQTT_URL });
    try {
      await expect(publisher.publish([outgoing('orders.+', 'k', 0)])).rejects.toMatchObject({ code: 'PUBLISH_REJECTED', retryable: false });
    } finally {
      await publisher.close();
    }
  });

  it("reports a message over a private Mosquitto's message_size_limit as a permanent rejection", async () => {
    // The machine's Mosquitto sets no size limit, so this runs a second one on a free port.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const dir = await mkdtemp(join(tmpdir(), 'herald-mosquitto-'));
    await writeFile(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nmessage_size_limit 1000\n`);
    const broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
    const publisher = new MqttPublisher({ url: `mqtt://127.0.0.1:${port}`, ackTimeoutMs: 3_000 });
    try {
      await waitFor(
        () =>
          publisher.prepare(['limited']).then(
            () => true,
            () => false,
          ),
        5_000,
        100,
      );
      const big = { ...outgoing('limited', 'big', 0), data: JSON.stringify({ filler: 'x'.repeat(5000) }) };
      await expect(publisher.publish([big])).rejects.toMatchObject({ code: 'PUBLISH_REJECTED', retryable: false });
      // The refusal dropped the connection; the next publish opens another one.
      await publisher.publish([outgoing('limited', 'small', 1)]);
    } finally {
      await publisher.close();
      broker.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses QoS 0 and bad urls, never repeating the password', () => {
    expect(() => new MqttPublisher({ url: MQTT_URL, qos: 0 as 1 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(parseMqttUrl('mqtt://user:s3cret@10.0.0.1')).toMatchObject({
      host: '10.0.0.1',
      port: 1883,
      username: 'user',
      password: 's3cret',
    });
    for (const bad of [
      'tcp://user:s3cret@host:1883',
      'mqtt://user:s3cret@host:1883/topic',
      'mqtt://user:s3cret@host:70000',
      's3cret@ nonsense',
    ]) {
      let err: unknown;
      try {
        parseMqttUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(err, bad).toMatchObject({ code: 'CONFIG_INVALID' });
      expect((err as Error).message).not.toContain('s3cret');
    }
  });
});
