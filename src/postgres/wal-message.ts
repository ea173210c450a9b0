import type { OutgoingEvent } from '../brokers/publisher.js';
import { HeraldError, ErrorCodes } from '../errors.js';

/**
 * The content of one WAL-message outbox event (`pg_logical_emit_message`): a line of JSON with
 * the topic and the CloudEvents attributes, a newline, then the payload exactly as the service's
 * JSON encoding wrote it. Keeping the payload apart means the relay forwards its bytes unchanged
 * instead of re-serialising (which could reorder keys or round numbers).
 */
export function encodeWalMessage(outgoing: OutgoingEvent): string {
  return `${JSON.stringify({ topic: outgoing.topic, ...outgoing.event })}\n${outgoing.data}`;
}

/** Reads what {@link encodeWalMessage} wrote; throws when the content is not such a message. */
export function decodeWalMessage(content: string): OutgoingEvent {
  const nl = content.indexOf('\n');
  const head = nl < 0 ? undefined : (JSON.parse(content.slice(0, nl)) as Record<string, unknown>);
  if (!head || typeof head.topic !== 'string' || typeof head.id !== 'string' || typeof head.partitionkey !== 'string') {
    throw new HeraldError(
      ErrorCodes.EVENT_INVALID,
      'a WAL message with the outbox prefix is not a Herald event (no topic, id or partition key)',
    );
  }
  const { topic, ...event } = head;
  return { topic, data: content.slice(nl + 1), event: event as unknown as OutgoingEvent['event'] };
}
