import type { IncomingEvent } from './subscriber.js';

const STRUCTURED = /^application\/cloudevents\+json\b/i;

/**
 * Decodes a received message into an {@link IncomingEvent}, whichever CloudEvents content mode
 * the producer used:
 *
 * - binary mode (what Herald publishes): `headers` whose names start with `prefix` (`ce_`,
 *   `ce-`, `cloudEvents:`) are the attributes, the body is `data`, byte for byte;
 * - structured mode (`content-type: application/cloudevents+json`, common with other producers):
 *   the body is a JSON envelope; its attributes are taken as strings and its `data` is
 *   re-serialised (so number spellings such as `1.0` may change).
 *
 * A body that claims structured mode but is not a JSON object is kept as `data` with no
 * attributes, so the loader can dead-letter it with a reason instead of losing it.
 */
export function decodeIncoming(
  topic: string,
  position: string,
  headers: Iterable<readonly [string, string]>,
  prefix: string,
  body: string,
): IncomingEvent {
  const attributes: Record<string, string> = {};
  let contentType: string | undefined;
  const lowerPrefix = prefix.toLowerCase();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type' || lower === 'content_type') contentType = value;
    else if (lower.startsWith(lowerPrefix)) attributes[name.slice(prefix.length)] = value;
  }
  if (contentType === undefined || !STRUCTURED.test(contentType)) return { topic, position, attributes, data: body };
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    return { topic, position, attributes, data: body };
  }
  if (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)) return { topic, position, attributes, data: body };
  const structured: Record<string, string> = {};
  let data = 'null';
  for (const [name, value] of Object.entries(envelope as Record<string, unknown>)) {
    if (name === 'data') data = JSON.stringify(value);
    else if (name === 'data_base64' && typeof value === 'string') data = Buffer.from(value, 'base64').toString('utf8');
    else if (value !== null && value !== undefined) structured[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return { topic, position, attributes: structured, data };
}
