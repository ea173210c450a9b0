import { HeraldError, ErrorCodes } from '../errors.js';
import type { Contract } from './contract.js';
import { contractList } from './exports.js';
import type { ContractRegistry } from './registry.js';

/** Options of {@link asyncApiDocument}; defaults in {@link asyncApiDefaults}. */
export interface AsyncApiOptions {
  /** `info.title`. */
  readonly title?: string;
  /** `info.version`: the version of this document (of the set of contracts), not of AsyncAPI. */
  readonly version?: string;
  /** `info.description`. */
  readonly description?: string;
  /**
   * The relay's topic mapping (`{ "<contract topic>": "<broker topic>" }`, the CLI's `topics`
   * option): channel addresses are the topics consumers really subscribe to.
   */
  readonly topics?: Readonly<Record<string, string>>;
}

/** The defaults of {@link AsyncApiOptions}, in one table. */
export const asyncApiDefaults = {
  title: 'Herald events',
  version: '1.0.0',
  description: 'Events published by Herald under data contracts: one channel per topic, one message per contract version.',
} as const;

/** An AsyncAPI document as a plain object, ready for `JSON.stringify` or a YAML writer. */
export type AsyncApiDocument = Record<string, unknown> & { readonly asyncapi: '3.0.0' };

/**
 * The CloudEvents attributes Herald sends with every event, as the Kafka binding spells them
 * (binary content mode: `ce_` headers, named like the Redis Streams fields; the value is `data`).
 * Other bindings carry the same attributes under their own prefix (`ce-` for HTTP, NATS, Pub/Sub
 * and SNS; `cloudEvents:` for AMQP; MQTT user properties without one).
 */
function headersSchema(c: Contract): Record<string, unknown> {
  const text = (description: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'string',
    description,
    ...extra,
  });
  return {
    type: 'object',
    description:
      'CloudEvents 1.0 attributes, binary content mode, as Kafka headers (`ce_` prefix, as are Redis Streams fields). Other bindings carry the same ' +
      'attributes with their own prefix: `ce-` (HTTP, NATS, Pub/Sub, SNS), `cloudEvents:` (AMQP), none (MQTT user properties).',
    properties: {
      'content-type': text('The media type of the value.', { const: 'application/json' }),
      ce_specversion: text('CloudEvents version.', { const: '1.0' }),
      ce_id: text(
        'The event id, a UUIDv7 made when the event was appended; the same on every retry and redelivery, so it is the key to deduplicate on.',
      ),
      ce_source: text('The service that produced the event, e.g. `/orders-service`.', { format: 'uri-reference' }),
      ce_type: text('The event type of this contract.', { const: c.eventType }),
      ce_time: text('When the event was appended (RFC 3339).', { format: 'date-time' }),
      ce_subject: text('The subject of the event within its source, when the producer set one.'),
      ce_dataschema: text('The contract and version the value satisfies.', { const: c.dataschema }),
      ce_partitionkey: text(`The partition key: the value of \`${c.partitionKey}\`; events with equal keys are delivered in commit order.`),
      ce_traceparent: text('W3C trace context of the producing transaction, when it was traced.', {
        pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
      }),
    },
    required: ['content-type', 'ce_specversion', 'ce_id', 'ce_source', 'ce_type', 'ce_time', 'ce_dataschema', 'ce_partitionkey'],
  };
}

/** The key of a contract version under `components.messages` and in its channel's `messages`. */
export function asyncApiMessageId(c: Pick<Contract, 'id' | 'version'>): string {
  // Component keys allow letters, digits, '.', '-' and '_'; a version may also hold '+'.
  return `${c.id}_${c.version}`.replace(/[^\w.-]/g, '_');
}

/**
 * Builds an AsyncAPI 3.0.0 document describing what Herald publishes: one channel per topic
 * (`address` = the topic as the broker knows it), holding one message per contract version
 * published there; one `send` operation per channel; and under `components.messages` each
 * contract version's message: its JSON Schema as the payload, the CloudEvents attributes as
 * headers, and the partition key as the Kafka message key. Contract details AsyncAPI has no field
 * for (compatibility mode, status) are in `x-herald-contract`. Deterministic: topics and
 * versions are sorted. Throws `CONFIG_INVALID` for a topic mapping that is not strings.
 */
export function asyncApiDocument(contracts: ContractRegistry | readonly Contract[], options: AsyncApiOptions = {}): AsyncApiDocument {
  const list = contractList(contracts);
  const topics = options.topics ?? {};
  for (const [from, to] of Object.entries(topics)) {
    if (typeof to !== 'string' || to === '') {
      throw new HeraldError(ErrorCodes.CONFIG_INVALID, `option 'topics' maps '${from}' to ${JSON.stringify(to)}; map it to a topic name`, {
        details: { option: 'topics' },
      });
    }
  }
  const addressOf = (c: Contract): string => topics[c.topic] ?? c.topic;

  const byAddress = new Map<string, Contract[]>();
  for (const c of list) byAddress.set(addressOf(c), [...(byAddress.get(addressOf(c)) ?? []), c]);
  const addresses = [...byAddress.keys()].sort();

  const messages: Record<string, unknown> = {};
  for (const c of list) messages[asyncApiMessageId(c)] = message(c);

  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const address of addresses) {
    const onIt = byAddress.get(address)!;
    // Contract topics are letters, digits, '.', '_' and '-' (checked at load), which is also
    // what AsyncAPI keys allow, so the topic itself is the channel's key.
    let id = channelId(address);
    // A mapped topic may hold other characters; two that escape alike get numbered keys.
    for (let n = 2; id in channels; n++) id = `${channelId(address)}_${n}`;
    const ids = [...new Set(onIt.map((c) => c.id))];
    channels[id] = {
      address,
      description: `Events of ${ids.map((i) => `\`${i}\``).join(', ')}, keyed by their partition key.`,
      messages: Object.fromEntries(
        onIt.map((c) => [asyncApiMessageId(c), { $ref: `#/components/messages/${pointerToken(asyncApiMessageId(c))}` }]),
      ),
    };
    operations[`send.${id}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${pointerToken(id)}` },
      title: `Send to ${address}`,
      summary: `The outbox relay publishes ${ids.map((i) => `\`${i}\``).join(', ')} events to \`${address}\`.`,
      description:
        'Delivered at least once, in commit order per partition key; consumers deduplicate on the event id (`ce_id`). ' +
        'Events are validated against their contract before they are written, so every message matches its payload schema.',
      messages: onIt.map((c) => ({ $ref: `#/channels/${pointerToken(id)}/messages/${pointerToken(asyncApiMessageId(c))}` })),
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: options.title ?? asyncApiDefaults.title,
      version: options.version ?? asyncApiDefaults.version,
      description: options.description ?? asyncApiDefaults.description,
    },
    defaultContentType: 'application/json',
    channels,
    operations,
    components: { messages },
  };
}

function message(c: Contract): Record<string, unknown> {
  return {
    name: c.eventType,
    title: `${c.name} ${c.version}`,
    summary: c.description ?? `Contract ${c.id} version ${c.version}.`,
    description:
      `Contract \`${c.id}\` version ${c.version} (${c.status}${c.owner ? `, owned by ${c.owner}` : ''}); ` +
      `CloudEvents type \`${c.eventType}\`, dataschema \`${c.dataschema}\`, partitioned by \`${c.partitionKey}\`.`,
    contentType: 'application/json',
    headers: headersSchema(c),
    payload: c.jsonSchema,
    bindings: {
      kafka: {
        key: { type: 'string', description: `The partition key: the value of \`${c.partitionKey}\` as text.` },
        bindingVersion: '0.5.0',
      },
    },
    'x-herald-contract': {
      id: c.id,
      version: c.version,
      status: c.status,
      compatibility: c.compatibility,
      partitionKey: c.partitionKey,
      dataschema: c.dataschema,
    },
  };
}

function channelId(address: string): string {
  return address.replace(/[^\w.-]/g, '_');
}

/** A key escaped for a JSON Pointer (RFC 6901). */
function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}
