import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaultProxy } from '../../chaos/fault-proxy.js';

let echo: Server;
let received: number;
let proxy: FaultProxy;
const clients: Socket[] = [];

beforeEach(async () => {
  received = 0;
  echo = createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => {
      received += d.length;
      s.write(d);
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  proxy = await FaultProxy.start({ targetPort: (echo.address() as AddressInfo).port, name: 'test link' });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy.close();
  await new Promise((r) => echo.close(r));
});

/** A client connected through the proxy, collecting what comes back and how it ended. */
async function connect(): Promise<{ socket: Socket; data: () => string; error: () => string | undefined; closed: Promise<void> }> {
  const socket = createConnection({ host: '127.0.0.1', port: proxy.port });
  clients.push(socket);
  let data = '';
  let error: string | undefined;
  socket.on('data', (d) => (data += d.toString()));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  // A connection reset at once may close before 'connect' is seen.
  await Promise.race([new Promise<void>((r) => socket.once('connect', () => r())), closed]);
  return { socket, data: () => data, error: () => error, closed };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms = 3_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) if (check()) return true;
  return check();
}

describe('the chaos TCP fault proxy', () => {
  it('forwards bytes both ways unchanged in pass mode', async () => {
    const c = await connect();
    c.socket.write('hello ');
    c.socket.write('world');
    expect(await until(() => c.data() === 'hello world')).toBe(true);
    expect(proxy.stats.bytesUp).toBe(11);
  });

  it('delays every chunk by the latency, keeping order (never earlier than asked)', async () => {
    const c = await connect();
    void proxy.fault({ durationMs: 5_000, latencyMs: 150, jitterMs: 50 });
    const t = Date.now();
    for (const part of ['a', 'b', 'c', 'd']) c.socket.write(part);
    expect(await until(() => c.data() === 'abcd')).toBe(true);
    // Up and down each at least latency - jitter: a lower bound, which no scheduling can undercut.
    expect(Date.now() - t).toBeGreaterThanOrEqual(2 * 100 - 5);
  });

  it('limits throughput to the bandwidth', async () => {
    const c = await connect();
    void proxy.fault({ durationMs: 5_000, bytesPerSecond: 10_000 });
    const t = Date.now();
    c.socket.write('x'.repeat(2_000));
    expect(await until(() => c.data().length === 2_000)).toBe(true);
    // 2000 bytes at 10000 B/s is at least 200 ms each way.
    expect(Date.now() - t).toBeGreaterThanOrEqual(2 * 200 - 5);
  });

  it('resets open connections at the start of a reset fault and each new one during it', async () => {
    const open = await connect();
    void proxy.fault({ durationMs: 400, reset: true });
    await open.closed;
    expect(open.error()).toBe('ECONNRESET');
    const during = await connect();
    await during.closed;
    expect(during.error()).toBe('ECONNRESET');
    await sleep(450);
    const after = await connect();
    after.socket.write('back');
    expect(await until(() => after.data() === 'back')).toBe(true);
  });

  it('accepts but forwards nothing during a blackhole, and delivers the held bytes when it ends', async () => {
    const c = await connect();
    const ended = proxy.fault({ durationMs: 500, blackhole: true });
    c.socket.write('held');
    await sleep(300);
    expect(received).toBe(0);
    expect(c.data()).toBe('');
    await ended;
    expect(proxy.current).toBeUndefined();
    expect(await until(() => c.data() === 'held')).toBe(true);
  });

  it('holds only the answers when half-open downstream: the server gets the request, the client no reply', async () => {
    const c = await connect();
    const ended = proxy.fault({ durationMs: 500, hold: 'downstream' });
    c.socket.write('ping');
    expect(await until(() => received === 4)).toBe(true);
    await sleep(100);
    expect(c.data()).toBe('');
    await ended;
    expect(await until(() => c.data() === 'ping')).toBe(true);
  });

  it('holds only the requests when half-open upstream', async () => {
    const c = await connect();
    void proxy.fault({ durationMs: 400, hold: 'upstream' });
    c.socket.write('ping');
    await sleep(200);
    expect(received).toBe(0);
    expect(await until(() => c.data() === 'ping')).toBe(true);
  });

  it('drops a connection with the loss probability, and never with probability 0', async () => {
    const rolls = [0.9, 0.9, 0.1]; // 'one' up, its echo down, then 'two' up
    await proxy.close();
    proxy = await FaultProxy.start({ targetPort: (echo.address() as AddressInfo).port, random: () => rolls.shift() ?? 0.9 });
    void proxy.fault({ durationMs: 5_000, lossProbability: 0.5 });
    const c = await connect();
    c.socket.write('one'); // rolls 0.9 up and 0.9 down: forwarded
    expect(await until(() => c.data() === 'one')).toBe(true);
    c.socket.write('two'); // roll 0.1 (<0.5): the connection is reset
    await c.closed;
    expect(c.error()).toBe('ECONNRESET');
    void proxy.fault({ durationMs: 5_000, lossProbability: 0 });
    const d = await connect();
    d.socket.write('safe');
    expect(await until(() => d.data() === 'safe')).toBe(true);
  });

  it('restores pass mode by itself when the duration is over, and on pass()', async () => {
    const done = proxy.fault({ durationMs: 100, latencyMs: 1_000 });
    expect(proxy.current?.latencyMs).toBe(1_000);
    await done;
    expect(proxy.current).toBeUndefined();
    const long = proxy.fault({ durationMs: 60_000, blackhole: true });
    proxy.pass();
    await long;
    expect(proxy.current).toBeUndefined();
  });

  it('refuses a fault without a positive duration or with a bad probability', () => {
    expect(() => proxy.fault({ durationMs: 0, blackhole: true })).toThrow(/durationMs/);
    expect(() => proxy.fault({ durationMs: 10, lossProbability: 2 })).toThrow(/lossProbability/);
  });
});
