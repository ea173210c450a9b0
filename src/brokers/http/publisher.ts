import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError, ErrorCodes, messageOf } from '../../errors.js';
import { ceAttributes, reportDelivered, type OutgoingEvent, type Publisher } from '../publisher.js';

/** Options of {@link HttpPublisher}. Defaults are in {@link httpDefaults}. */
export interface HttpPublisherOptions {
  /**
   * `http(s)://host[:port]/path`. Every `{topic}` in it is replaced by the URL-encoded topic;
   * the topic also travels in the `herald-topic` header. Credentials belong in `headers`, not here.
   */
  readonly url: string;
  /** Longest wait for one response, in ms. Default 5000. */
  readonly timeoutMs?: number;
  /** Further attempts after a failed connection, a timeout, or a 408, 429 or 5xx answer. Default 3. */
  readonly retries?: number;
  /** First pause before another attempt, doubled each time (with jitter), in ms. Default 250. */
  readonly retryDelayMs?: number;
  /** Longest pause between attempts, in ms; a longer `Retry-After` is cut to it. Default 5000. */
  readonly maxRetryDelayMs?: number;
  /**
   * Signs every request: `webhook-signature: sha256=<lowercase hex HMAC-SHA256 of the body>`,
   * keyed with this secret. It never appears in errors or logs.
   */
  readonly hmacSecret?: string;
  /** Static headers for every request (e.g. `authorization`); Herald's own headers win. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Partition keys sent at the same time; the events of one key always go one after another. Default 4. */
  readonly concurrency?: number;
}

/** The defaults of {@link HttpPublisherOptions}, in one table. */
export const httpDefaults = {
  timeoutMs: 5_000,
  retries: 3,
  retryDelayMs: 250,
  maxRetryDelayMs: 5_000,
  concurrency: 4,
} as const;

/** The header carrying the HMAC signature when `hmacSecret` is set. */
export const signatureHeader = 'webhook-signature';

/**
 * Posts events to an HTTP endpoint (a webhook) with Node's built-in `fetch`; no extra package.
 *
 * - CloudEvents HTTP binding, binary content mode: one `POST` per event; the body is `data`, byte
 *   for byte, with `content-type: application/json`; every attribute is a `ce-*` header
 *   (percent-encoded as the binding requires), `traceparent` is also sent as the W3C header.
 * - Durability: `publish` resolves once the endpoint answered 2xx for every event; the endpoint
 *   decides what that promises, and should store the event before answering.
 * - Ordering: the events of one partition key are sent one at a time in batch order, the next
 *   only after the previous got its 2xx, so the endpoint sees each key in order. Up to
 *   `concurrency` keys are in flight at once, which only interleaves different keys.
 * - Deduplication: none in HTTP. `ce-id` carries the event id, the same on every retry and
 *   redelivery; endpoints deduplicate on it.
 * - Rejections: no connection or no answer in time → `BROKER_UNAVAILABLE`; 408, 429 or 5xx still
 *   after `retries` more attempts (each honouring `Retry-After`) → `PUBLISH_FAILED`, retryable;
 *   404 or 410 → `TOPIC_NOT_FOUND`, retryable (nothing serves this topic's URL yet: deploying or
 *   routing it fixes that without touching the events, like a Kafka topic created later); 401 or
 *   403 → `BROKER_UNAVAILABLE` (credentials are configuration: the relay pauses); any other 4xx, or a redirect (not followed: the signed body and headers stay with the configured
 *   host) → `PUBLISH_REJECTED`. Response bodies are never read into errors. After the first
 *   failure no further event is started; the rejection reports the events that got their 2xx
 *   (`reportDelivered`), per key a prefix, so that the relay does not send them again.
 */
export class HttpPublisher implements Publisher {
  readonly name = 'http';
  readonly #url: string;
  readonly #options: Required<Omit<HttpPublisherOptions, 'url' | 'hmacSecret' | 'headers'>>;
  readonly #secret: string | undefined;
  readonly #headers: Headers;
  /** Aborts requests and pauses in flight when the publisher closes. */
  readonly #closing = new AbortController();

  constructor(options: HttpPublisherOptions) {
    this.#url = parseHttpUrl(options.url);
    this.#options = {
      timeoutMs: integer(options.timeoutMs ?? httpDefaults.timeoutMs, 'timeoutMs', 1),
      retries: integer(options.retries ?? httpDefaults.retries, 'retries', 0),
      retryDelayMs: integer(options.retryDelayMs ?? httpDefaults.retryDelayMs, 'retryDelayMs', 0),
      maxRetryDelayMs: integer(options.maxRetryDelayMs ?? httpDefaults.maxRetryDelayMs, 'maxRetryDelayMs', 0),
      concurrency: integer(options.concurrency ?? httpDefaults.concurrency, 'concurrency', 1),
    };
    if (options.hmacSecret !== undefined && (typeof options.hmacSecret !== 'string' || options.hmacSecret.length === 0)) {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, 'http option hmacSecret must be a non-empty string', {
        details: { option: 'hmacSecret' },
      });
    }
    this.#secret = options.hmacSecret;
    this.#headers = new Headers();
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      try {
        this.#headers.set(name, value);
      } catch {
        // The value is not printed: it is often a credential.
        throw new HeraldError(ErrorCodes.CONFIG_INVALID, `http header '${name}' has an invalid name or value`, {
          details: { option: 'headers' },
        });
      }
    }
  }

  /** Nothing to check: whether a topic's URL is served shows only when an event is posted to it. */
  async prepare(_topics: readonly string[]): Promise<void> {
    if (this.#closing.signal.aborted) throw closedError();
  }

  async publish(batch: readonly OutgoingEvent[]): Promise<void> {
    if (this.#closing.signal.aborted) throw closedError();
    // Lanes hold batch indices, so that a failure can tell which events the endpoint took.
    const lanes = new Map<string, number[]>();
    for (const [i, e] of batch.entries()) {
      const lane = lanes.get(e.event.partitionkey);
      if (lane) lane.push(i);
      else lanes.set(e.event.partitionkey, [i]);
    }
    const pending = [...lanes.values()];
    const posted: number[] = [];
    let failure: unknown;
    // Each worker takes one key's events at a time and posts them in order.
    const worker = async (): Promise<void> => {
      for (let lane = pending.shift(); lane !== undefined && failure === undefined; lane = pending.shift()) {
        for (const i of lane) {
          if (failure !== undefined) return;
          try {
            await this.#post(batch[i]!);
          } catch (err) {
            failure ??= err;
            return;
          }
          posted.push(i);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#options.concurrency, pending.length) }, worker));
    // What got its 2xx is with the endpoint: per key a prefix, since a lane stops at its failure.
    if (failure !== undefined) throw failure instanceof HeraldError ? reportDelivered(failure, posted) : failure;
  }

  /**
   * One request, aborted after `timeoutMs` or by `close()`. A controller per request, with the
   * close listener removed afterwards: `AbortSignal.any` on the long-lived close signal would keep
   * a reference per request for the publisher's whole life (a leak, on Node 20).
   */
  async #fetch(url: string, init: RequestInit): Promise<Response> {
    const request = new AbortController();
    const timer = setTimeout(() => request.abort(new DOMException('timed out', 'TimeoutError')), this.#options.timeoutMs);
    const onClose = (): void => request.abort();
    this.#closing.signal.addEventListener('abort', onClose, { once: true });
    try {
      return await fetch(url, { ...init, signal: request.signal });
    } finally {
      clearTimeout(timer);
      this.#closing.signal.removeEventListener('abort', onClose);
    }
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Posts one event until it gets a 2xx, a final answer, or runs out of attempts. */
  async #post(e: OutgoingEvent): Promise<void> {
    const url = this.#url.replaceAll('{topic}', encodeURIComponent(e.topic));
    // Built only when an error needs it: this is the relay's hot path.
    const where = (): string => `'${e.topic}' at ${redact(url)}`;
    const headers = this.#headersOf(e);
    const details = { topic: e.topic, eventId: e.event.id };
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.#options.retries;
      let response: Response;
      try {
        response = await this.#fetch(url, { method: 'POST', headers, body: e.data, redirect: 'manual' });
      } catch (cause) {
        if (this.#closing.signal.aborted) throw closedError();
        if (last) {
          const reason = (cause as Error).name === 'TimeoutError' ? `no answer within ${this.#options.timeoutMs} ms` : describe(cause);
          throw new HeraldError(
            ErrorCodes.BROKER_UNAVAILABLE,
            `cannot publish event ${e.event.id} to ${where()}: ${reason}; check the url and that the endpoint is running`,
            { cause, retryable: true, details },
          );
        }
        await this.#pause(backoff(attempt, this.#options));
        continue;
      }
      // The body is never needed (and never printed); cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      const { status } = response;
      if (status >= 200 && status < 300) return;
      const answer = `the endpoint answered ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (status === 408 || status === 429 || status >= 500) {
        if (last) {
          throw new HeraldError(
            ErrorCodes.PUBLISH_FAILED,
            `cannot publish event ${e.event.id} to ${where()}: ${answer} after ${attempt + 1} attempt(s)`,
            { retryable: true, details: { ...details, status } },
          );
        }
        const asked = retryAfterMs(response.headers.get('retry-after'));
        await this.#pause(asked === undefined ? backoff(attempt, this.#options) : Math.min(asked, this.#options.maxRetryDelayMs));
        continue;
      }
      if (status === 401 || status === 403) {
        // Credentials are the relay's configuration, not the event's fault: pause and retry
        // (BROKER_UNAVAILABLE) rather than dead-letter every event until someone fixes them.
        throw new HeraldError(
          ErrorCodes.BROKER_UNAVAILABLE,
          `cannot publish event ${e.event.id} to ${where()}: ${answer}; check the credentials sent with 'headers'`,
          { retryable: true, details: { ...details, status } },
        );
      }
      if (status === 404 || status === 410) {
        throw new HeraldError(
          ErrorCodes.TOPIC_NOT_FOUND,
          `cannot publish event ${e.event.id} to ${where()}: ${answer}; nothing serves this topic's url (check the url's {topic} mapping and the endpoint's routes)`,
          { retryable: true, details: { ...details, status } },
        );
      }
      const hint = status >= 300 && status < 400 ? '; redirects are not followed: configure the final url' : '';
      throw new HeraldError(ErrorCodes.PUBLISH_REJECTED, `cannot publish event ${e.event.id} to ${where()}: ${answer}${hint}`, {
        details: { ...details, status },
      });
    }
  }

  #headersOf(e: OutgoingEvent): Headers {
    const headers = new Headers(this.#headers);
    headers.set('content-type', 'application/json');
    headers.set('herald-topic', headerValue(e.topic));
    const attrs = e.event as unknown as Record<string, string | undefined>;
    for (const name of ceAttributes) {
      const value = attrs[name];
      if (value !== undefined) headers.set(`ce-${name}`, headerValue(value));
    }
    if (e.event.traceparent !== undefined) headers.set('traceparent', headerValue(e.event.traceparent));
    if (this.#secret !== undefined) {
      headers.set(signatureHeader, `sha256=${createHmac('sha256', this.#secret).update(e.data, 'utf8').digest('hex')}`);
    }
    return headers;
  }

  async #pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#closing.signal });
    } catch {
      throw closedError();
    }
  }
}

function closedError(): HeraldError {
  return new HeraldError(ErrorCodes.CLOSED, 'http publisher is closed');
}

/** Exponential backoff with jitter: between half and all of `retryDelayMs * 2^attempt`, capped. */
function backoff(attempt: number, o: { retryDelayMs: number; maxRetryDelayMs: number }): number {
  const full = Math.min(o.retryDelayMs * 2 ** attempt, o.maxRetryDelayMs);
  return full / 2 + (Math.random() * full) / 2;
}

/**
 * The wait a `Retry-After` header asks for, in ms: either delay-seconds or an HTTP date
 * (RFC 9110 §10.2.3). Undefined when absent or unreadable.
 */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * A header value as the CloudEvents HTTP binding wants it: space, `"`, `%` and everything
 * outside printable ASCII percent-encoded as UTF-8 (fetch would refuse non-Latin-1 values).
 */
function headerValue(value: string): string {
  return value.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (ch) =>
    [...Buffer.from(ch, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** The url without query, fragment or credentials, for messages: those may hold tokens. */
function redact(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

/** The most specific reason of a fetch failure (`fetch failed` alone says nothing). */
function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } } | null)?.cause;
  return cause?.code ?? cause?.message ?? messageOf(err);
}

function integer(value: number, option: string, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, `http option ${option} must be an integer of at least ${min}`, {
      details: { option },
    });
  }
  return value;
}

/** Validates an `http(s)://` url, `{topic}` allowed anywhere in it; returns it unchanged. */
export function parseHttpUrl(url: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url.replaceAll('{topic}', 'topic'));
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new HeraldError(
      ErrorCodes.CONFIG_INVALID,
      'http url must be http(s)://host[:port]/path, as in https://hooks.example.com/events/{topic}',
      {
        details: { option: 'url' },
      },
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new HeraldError(ErrorCodes.CONFIG_INVALID, 'http url must not contain credentials; pass them in headers (e.g. authorization)', {
      details: { option: 'url' },
    });
  }
  return url;
}
