import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { IncomingEvent, Subscriber, SubscriberBatch } from '../../src/brokers/subscriber.js';
import type { RecordedEvent } from '../../src/testing/recording-publisher.js';

/** The real OpenTelemetry SDK, registered globally as an application would, exporting to memory. */
export interface TestTracing {
  readonly exporter: InMemorySpanExporter;
  /** The application's own tracer, for the service span a test starts. */
  readonly tracer: Tracer;
  /** The finished spans named `name`. */
  spans(name?: string | RegExp): ReadableSpan[];
  shutdown(): Promise<void>;
}

/**
 * Registers a BasicTracerProvider with a SimpleSpanProcessor (every span exported when it ends)
 * and the AsyncLocalStorage context manager, so that `startActiveSpan` carries across awaits.
 */
export function installTracing(): TestTracing {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  return {
    exporter,
    tracer: trace.getTracer('orders-service'),
    spans: (name) =>
      exporter.getFinishedSpans().filter((s) => name === undefined || (typeof name === 'string' ? s.name === name : name.test(s.name))),
    async shutdown() {
      await provider.shutdown();
      manager.disable();
      trace.disable();
      context.disable();
    },
  };
}

/**
 * A subscriber over events a RecordingPublisher delivered, with their CloudEvents attributes as a
 * broker's headers would carry them: the loader and the consumer runtime read it like any broker.
 * It hands out everything in one batch (once), then waits until it is stopped.
 */
export class RecordedSubscriber implements Subscriber {
  readonly name = 'recording';
  acked = 0;
  readonly #events: IncomingEvent[];
  #handedOut = false;

  constructor(recorded: readonly RecordedEvent[]) {
    this.#events = recorded.map((r, i) => {
      const { data, ...envelope } = r.event;
      const attributes: Record<string, string> = {};
      for (const [k, v] of Object.entries(envelope)) if (typeof v === 'string') attributes[k] = v;
      return { topic: r.topic, position: String(i), attributes, data: JSON.stringify(data) };
    });
  }

  async prepare(): Promise<void> {}

  async *batches(signal?: AbortSignal): AsyncIterable<SubscriberBatch> {
    if (!this.#handedOut && this.#events.length > 0) {
      this.#handedOut = true;
      yield { events: this.#events, ack: async () => void this.acked++ };
    }
    // Like a broker with nothing more to deliver: wait, without spinning, until asked to stop.
    if (signal && !signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }

  async close(): Promise<void> {}
}
