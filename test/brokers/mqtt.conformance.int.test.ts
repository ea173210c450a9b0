import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MqttPublisher, fromMqttTopic, parseMqttUrl, toMqttTopic } from '../../src/brokers/mqtt/publisher.js';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { uniqueName, waitFor } from '../support/services.js';
import { outgoing, publisherConformance } from './conformance.js';
import { MQTT_URL, mqttTarget } from './targets/mqtt.js';

publisherConformance(mqttTarget);

describe('mqtt publisher', () => {
  it('reports, with a refusal, the events the broker acknowledged (per key up to its first refusal), so that they are not sent again', async () => {
    const topic = await mqttTarget.topic();
    const publisher = mqttTarget.publisher();
    try {
      // Mosquitto denies clients the $SYS tree (PUBACK 0x87).
      const denied = `$SYS.herald.${uniqueName('t')}`;
      const batch = [outgoing(topic, 'a', 0), outgoing(denied, 'b', 0), outgoing(topic, 'a', 1), outgoing(topic, 'b', 1)];
      const err = await publisher.publish(batch).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PUBLISH_REJECTED' });
      // 'b' stops at its refusal: its later event is neither sent nor reported.
      expect(deliveredOf(err, batch.length)).toEqual([0, 2]);
      expect((await mqttTarget.read(topic, 2)).map((m) => m.id).sort()).toEqual([batch[0]!.event.id, batch[2]!.event.id].sort());
    } finally {
      await publisher.close();
      await mqttTarget.cleanup?.();
    }
  });

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
