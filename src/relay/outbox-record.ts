import type { RelayRecord } from './source.js';

/**
 * Builds a relay record from an outbox-shaped row (outbox, parked): `id` becomes the position;
 * `time` must already be RFC 3339 text and `data` the payload's JSON text.
 */
export function recordFromRow(r: Record<string, unknown>): RelayRecord {
  const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
  const subject = opt(r.subject);
  const dataschema = opt(r.dataschema);
  const traceparent = opt(r.traceparent);
  return {
    position: r.id as string,
    attempts: Number(r.attempts ?? 0),
    outgoing: {
      topic: r.topic as string,
      data: r.data as string,
      event: {
        specversion: '1.0',
        id: r.event_id as string,
        source: r.source as string,
        type: r.type as string,
        time: r.time as string,
        datacontenttype: 'application/json',
        partitionkey: r.partition_key as string,
        ...(subject === undefined ? {} : { subject }),
        ...(dataschema === undefined ? {} : { dataschema }),
        ...(traceparent === undefined ? {} : { traceparent }),
      },
    },
  };
}
