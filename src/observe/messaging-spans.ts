/**
 * The spans Herald makes around messaging, named and attributed after the OpenTelemetry messaging
 * semantic conventions (v1.28 and later: `messaging.operation.type` is `send` where it used to be
 * `publish`). The attribute names are spelled out here rather than imported, so that
 * `@opentelemetry/semantic-conventions` is not one more dependency.
 */
import type { Attributes, Link, Span, SpanKind } from '@opentelemetry/api';
import { linksOf, recordFailure, spanContextOf, type Tracing } from './tracing.js';

/** The attribute names Herald sets on its messaging spans. */
export const MessagingAttributes = {
  system: 'messaging.system',
  destination: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  consumerGroup: 'messaging.consumer.group.name',
} as const;

// The conventions' well-known `messaging.system` values where a broker's name in Herald differs.
const SYSTEMS: Readonly<Record<string, string>> = { pubsub: 'gcp_pubsub', sns: 'aws_sns', sqs: 'aws_sqs' };

/** The `messaging.system` value for a publisher's or subscriber's `name` (`pubsub` → `gcp_pubsub`). */
export function messagingSystem(name: string): string {
  return SYSTEMS[name] ?? name;
}

/** What one messaging operation is about: the messages' ids, topics and incoming trace contexts. */
export interface MessagingOperation {
  /** The broker, as the adapter names itself (`kafka`, `nats`, `recording`, ...). */
  readonly system: string;
  readonly messages: readonly { readonly id: string | undefined; readonly topic: string; readonly traceparent: string | undefined }[];
  /** The consumer group or durable name, on the consuming side. */
  readonly group?: string;
}

/**
 * Span name and attributes of an operation: `<operation> <topic>` when all messages share a
 * topic, the message id for one message and the count for several (the conventions ask for one
 * or the other, never both).
 */
function describe(operation: 'send' | 'process', op: MessagingOperation): { name: string; attributes: Attributes } {
  const topics = new Set(op.messages.map((m) => m.topic));
  const topic = topics.size === 1 ? op.messages[0]!.topic : undefined;
  const attributes: Attributes = {
    [MessagingAttributes.system]: messagingSystem(op.system),
    [MessagingAttributes.operationType]: operation,
    [MessagingAttributes.operationName]: operation,
  };
  if (topic !== undefined) attributes[MessagingAttributes.destination] = topic;
  const id = op.messages[0]?.id;
  if (op.messages.length === 1 && id !== undefined) attributes[MessagingAttributes.messageId] = id;
  if (op.messages.length > 1) attributes[MessagingAttributes.batchCount] = op.messages.length;
  if (op.group !== undefined) attributes[MessagingAttributes.consumerGroup] = op.group;
  return { name: topic === undefined ? operation : `${operation} ${topic}`, attributes };
}

async function inSpan<T>(
  tracing: Tracing,
  name: string,
  options: { kind: SpanKind; attributes: Attributes; links: Link[] },
  parent: ReturnType<Tracing['api']['context']['active']> | undefined,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const { api, tracer } = tracing;
  // Without a parent the span starts its own trace: a relay or loader started inside some
  // request's span must not make every later batch a child of that request.
  const context = parent ?? api.ROOT_CONTEXT;
  return tracer.startActiveSpan(name, { ...options, root: parent === undefined }, context, async (span) => {
    try {
      return await work(span);
    } catch (err) {
      recordFailure(tracing, span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `publish` inside a PRODUCER span `send <topic>`, linked to the trace context each event was
 * written in, so a trace viewer leads from the service's request to the delivery. By default the
 * span is a trace of its own (a relay works for many requests); with `inActive` it is the child
 * of the caller's active span (a service publishing directly, inside its request). A rejection is
 * recorded on the span (status ERROR) and rethrown unchanged. Without tracing, `publish` is
 * simply called.
 */
export function withSendSpan(
  tracing: Tracing | undefined,
  op: MessagingOperation,
  publish: () => Promise<void>,
  options: { readonly inActive?: boolean } = {},
): Promise<void> {
  if (tracing === undefined) return publish();
  const { name, attributes } = describe('send', op);
  const links = linksOf(
    tracing,
    op.messages.map((m) => m.traceparent),
  );
  const parent = options.inActive === true ? tracing.api.context.active() : undefined;
  return inSpan(tracing, name, { kind: tracing.api.SpanKind.PRODUCER, attributes, links }, parent, () => publish());
}

/**
 * Runs `work` inside a CONSUMER span `process <topic>`. For one message whose traceparent is
 * valid, the span is that context's child, so the consumer's work (and every span it starts)
 * continues the producer's trace; for a batch, it starts a trace of its own linked to every
 * message's context, as the conventions ask for batch processing. Failures are recorded
 * (status ERROR) and rethrown. Without tracing, `work` runs with no span.
 */
export function withProcessSpan<T>(
  tracing: Tracing | undefined,
  op: MessagingOperation,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (tracing === undefined) return work(undefined);
  const { api } = tracing;
  const { name, attributes } = describe('process', op);
  const single = op.messages.length === 1 ? spanContextOf(tracing, op.messages[0]!.traceparent) : undefined;
  const parent = single === undefined ? undefined : api.trace.setSpanContext(api.ROOT_CONTEXT, single);
  const links =
    single === undefined
      ? linksOf(
          tracing,
          op.messages.map((m) => m.traceparent),
        )
      : [];
  return inSpan(tracing, name, { kind: api.SpanKind.CONSUMER, attributes, links }, parent, work);
}
