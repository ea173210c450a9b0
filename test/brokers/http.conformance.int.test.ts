import { createHmac } from 'node:crypto';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpPublisher, retryAfterMs, signatureHeader } from '../../src/brokers/http/publisher.js';
import { deliveredOf } from '../../src/brokers/publisher.js';
import { outgoing, publisherConformance } from './conformance.js';
import { HOOK_URL, accepted, attempts, attributesOf, closeHttpTarget, hookTopic, httpTarget, script } from './targets/http.js';

afterAll(closeHttpTarget);

publisherConformance(httpTarget);

describe('http publisher', () => {
  it('honours Retry-After: waits at least as long as a 503 asks, then delivers', async () => {
    const t = hookTopic();
    script.set(t, [{ status: 503, headers: { 'retry-after': '1' } }]);
    const publisher = new HttpPublisher({ url: HOOK_URL, retryDelayMs: 10 });
    const started = Date.now();
    await publisher.publish([outgoing(t, 'k', 0)]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(attempts.get(t)).toBe(2);
    expect(accepted.get(t)).toHaveLength(1);
    await publisher.close();
  });

  it('retries 429 answers, and reports 5xx that outlast the retries as PUBLISH_FAILED, retryable', async () => {
    const limited = hookTopic();
    script.set(limited, [{ status: 429 }, { status: 429 }]);
    const publisher = new HttpPublisher({ url: HOOK_URL, retries: 2, retryDelayMs: 10 });
    await publisher.publish([outgoing(limited, 'k', 0)]);
    expect(attempts.get(limited)).toBe(3);
    expect(accepted.get(limited)).toHaveLength(1);

    const failing = hookTopic();
    script.set(failing, [{ status: 500 }, { status: 502 }, { status: 503 }]);
    const err = await publisher.publish([outgoing(failing, 'k', 0)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PUBLISH_FAILED', retryable: true, details: { status: 503 } });
    expect(attempts.get(failing)).toBe(3);
    await publisher.close();
  });

  it('maps 404 to TOPIC_NOT_FOUND and a redirect to PUBLISH_REJECTED, without printing the body', async () => {
    const publisher = new HttpPublisher({ url: HOOK_URL, retryDelayMs: 10 });
    for (const [status, code] of [
      [404, 'TOPIC_NOT_FOUND'],
      [400, 'PUBLISH_REJECTED'],
      [307, 'PUBLISH_REJECTED'],
    ] as const) {
      const t = hookTopic();
      script.set(t, [{ status, headers: status === 307 ? { location: 'http://example.com/' } : {} }]);
      const err = await publisher.publish([outgoing(t, 'k', 0)]).catch((e: unknown) => e);
      expect(err, String(status)).toMatchObject({ code, details: { status } });
      expect(attempts.get(t)).toBe(1);
      expect(inspect(err)).not.toContain('do not print me');
    }
    await publisher.close();
  });

  it('signs the body with the HMAC secret, and never shows the secret', async () => {
    const secret = 'hmac-secret-do-not-leak';
    const t = hookTopic();
    const publisher = new HttpPublisher({ url: HOOK_URL, hmacSecret: secret, headers: { authorization: 'Bearer token' } });
    const e = outgoing(t, 'signed', 0);
    await publisher.publish([e]);
    const [request] = accepted.get(t)!;
    const expected = `sha256=${createHmac('sha256', secret).update(request!.body).digest('hex')}`;
    expect(request!.headers[signatureHeader]).toBe(expected);
    expect(request!.headers.authorization).toBe('Bearer token');

    script.set(t, [{ status: 401 }]);
    const err = await publisher.publish([outgoing(t, 'signed', 1)]).catch((x: unknown) => x);
    // Credentials are configuration: the relay pauses instead of dead-lettering the event.
    expect(err).toMatchObject({ code: 'BROKER_UNAVAILABLE', retryable: true });
    expect(`${inspect(err)} ${JSON.stringify(err)} ${inspect(publisher)}`).not.toContain(secret);
    await publisher.close();
  });

  it('percent-encodes attribute values that are not printable ASCII, and sends traceparent as is', async () => {
    const t = hookTopic();
    const publisher = new HttpPublisher({ url: HOOK_URL });
    const base = outgoing(t, 'ключ 1', 0);
    const e = { ...base, event: { ...base.event, subject: 'ünï "quoted" 100% done' } };
    await publisher.publish([e]);
    const [request] = accepted.get(t)!;
    expect(attributesOf(request!.headers)).toMatchObject({ subject: e.event.subject, partitionkey: 'ключ 1' });
    expect(request!.headers.traceparent).toBe(e.event.traceparent);
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers['herald-topic']).toBe(t);
    await publisher.close();
  });

  it('reports, with a failure, the events the endpoint took (per key a prefix), so that they are not sent again', async () => {
    const ok = hookTopic();
    const bad = hookTopic();
    script.set(bad, [{ status: 400 }]);
    const publisher = new HttpPublisher({ url: HOOK_URL, retryDelayMs: 10, concurrency: 1 });
    const batch = [outgoing(ok, 'a', 0), outgoing(ok, 'b', 0), outgoing(ok, 'a', 1), outgoing(bad, 'c', 0), outgoing(ok, 'd', 0)];
    const err = await publisher.publish(batch).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PUBLISH_REJECTED' });
    // One key at a time: 'a' and 'b' were posted, 'c' was refused, 'd' was never started.
    expect(deliveredOf(err, batch.length)).toEqual([0, 1, 2]);
    expect((accepted.get(ok) ?? []).map((r) => attributesOf(r.headers).id).sort()).toEqual([0, 1, 2].map((i) => batch[i]!.event.id).sort());
    await publisher.close();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('Sun, 29 Nov 2026 12:00:00 GMT');
    expect(retryAfterMs('1', now)).toBe(1000);
    expect(retryAfterMs(' 120 ', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 29 Nov 2026 12:00:03 GMT', now)).toBe(3000);
    expect(retryAfterMs('Sun, 29 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it('rejects a url that is not http(s) or holds credentials, naming the option', () => {
    for (const url of ['ftp://example.com/', 'not a url', 'https://user:pw@example.com/{topic}']) {
      expect(() => new HttpPublisher({ url }), url).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', details: { option: 'url' } }),
      );
    }
    expect(() => new HttpPublisher({ url: HOOK_URL, retries: -1 })).toThrow(expect.objectContaining({ details: { option: 'retries' } }));
  });
});
