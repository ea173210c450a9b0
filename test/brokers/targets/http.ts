import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpPublisher } from '../../../src/brokers/http/publisher.js';
import { uniqueName } from '../../support/services.js';
import { outgoing, type ConformanceTarget, type ReceivedMessage } from '../conformance.js';

/** A request as the local webhook server received it. */
export interface Received {
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An answer the server gives instead of 200, once, for a topic. */
export interface Scripted {
  readonly status: number;
  readonly headers?: Record<string, string>;
}

// A real HTTP server on 127.0.0.1, started when this module is imported: it records every POST to
// /hooks/{topic} that it answers with 200 (storing it first, as a webhook should), and answers
// scripted statuses where told to. Whoever imports this module closes it with `closeHttpTarget`.
export const accepted = new Map<string, Received[]>();
export const attempts = new Map<string, number>();
export const script = new Map<string, Scripted[]>();
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const topic = decodeURIComponent(new URL(req.url!, 'http://localhost').pathname.replace(/^\/hooks\//, ''));
    attempts.set(topic, (attempts.get(topic) ?? 0) + 1);
    const answer = script.get(topic)?.shift();
    if (answer) {
      // A body the publisher must never put into an error.
      res.writeHead(answer.status, answer.headers).end('{"internal":"do not print me"}');
      return;
    }
    accepted.set(topic, accepted.get(topic) ?? []);
    accepted.get(topic)!.push({ headers: req.headers, body: Buffer.concat(chunks) });
    res.writeHead(200).end();
  });
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const port = (server.address() as AddressInfo).port;
export const HOOK_URL = `http://127.0.0.1:${port}/hooks/{topic}`;

/** Stops the webhook server; call it once, in `afterAll` of the test file that imported this module. */
export async function closeHttpTarget(): Promise<void> {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
}

/** `ce-*` headers back to CloudEvents attributes, percent-decoded as the binding says. */
export function attributesOf(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => name.startsWith('ce-'))
      .map(([name, value]) => [name.slice(3), decodeURIComponent(String(value))]),
  );
}

/** A fresh topic: the server takes any, so nothing is created. */
export function hookTopic(): string {
  return uniqueName('hook').replace('_', '.');
}

/** Webhooks to the local server above; `read` needs no wait, the server stored each event before answering 200. */
export const httpTarget: ConformanceTarget = {
  name: 'http',
  publisher: () => new HttpPublisher({ url: HOOK_URL, timeoutMs: 2000, retries: 2, retryDelayMs: 50 }),
  unreachablePublisher: () => new HttpPublisher({ url: 'http://127.0.0.1:1/hooks/{topic}', timeoutMs: 1000, retries: 0 }),
  topic: async () => hookTopic(),
  read: async (t): Promise<ReceivedMessage[]> =>
    (accepted.get(t) ?? []).map((r) => {
      const attributes = attributesOf(r.headers);
      return { id: attributes.id!, data: r.body.toString('utf8'), attributes, dedupId: attributes.id };
    }),
  ordersPerKey: true,
  permanentRejection: async (publisher) => {
    const t = hookTopic();
    script.set(t, [{ status: 413 }]);
    return publisher.publish([outgoing(t, 'big', 0)]).then(
      () => undefined,
      (e: unknown) => e,
    );
  },
  restart: async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
  },
};
