import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { MqttPublisher } from '../../../src/brokers/mqtt/publisher.js';
import { uniqueName, waitFor } from '../../support/services.js';
import { commandLineOf, stopProcess } from '../../support/processes.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

const run = promisify(execFile);
export const MQTT_URL = 'mqtt://127.0.0.1:1883';
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

async function readTopic(topic: string, atLeast: number, timeoutMs = 5_000): Promise<ReceivedMessage[]> {
  const reader = readers.get(topic);
  if (!reader) throw new Error(`no reader for '${topic}'`);
  await waitFor(async () => reader.messages.length >= atLeast, timeoutMs, 50);
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
  const [command, ...args] = await commandLineOf(pid);
  await stopProcess(pid);
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

/**
 * The machine's Mosquitto: `topic()` starts a subscriber for a fresh topic (the broker keeps
 * nothing for a topic without one); `cleanup` ends the subscribers and their sessions.
 */
export const mqttTarget: ConformanceTarget = {
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
};
