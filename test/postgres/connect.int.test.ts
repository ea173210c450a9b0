import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectPg } from '../../src/postgres/connect.js';

let server: Server | undefined;
const sockets: import('node:net').Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

/** A TCP server on 127.0.0.1 that treats each connection as `handle` says; resolves with its port. */
async function fakeServer(handle: (socket: import('node:net').Socket) => void): Promise<number> {
  server = createServer((socket) => {
    sockets.push(socket);
    handle(socket);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

describe('connectPg', () => {
  it('calls a server that drops the connection while starting or stopping a retryable error', async () => {
    // What a PostgreSQL that is shutting down looks like to a client: accept, then close.
    const port = await fakeServer((socket) => socket.destroy());
    const err = await connectPg(`postgres://relay:secret@127.0.0.1:${port}/db`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DATABASE_ERROR', retryable: true });
    expect((err as Error).message).toContain(`postgres://relay:***@127.0.0.1:${port}/db`);
    expect((err as Error).message).not.toContain('secret');
  });

  it('gives up on a server that accepts the connection but never answers, instead of hanging', async () => {
    const port = await fakeServer(() => undefined);
    const started = Date.now();
    const err = await connectPg(`postgres://relay@127.0.0.1:${port}/db`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DATABASE_ERROR', retryable: true });
    expect(Date.now() - started).toBeLessThan(15_000);
  }, 20_000);
});
