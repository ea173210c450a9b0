// `herald/testing`: test doubles for a service's own unit tests. Never production stores or publishers.
export { InMemoryOutbox, type InMemoryTransaction, type InMemoryDeadLetter } from './in-memory-outbox.js';
export { RecordingPublisher, type RecordedEvent, type InjectedFailure } from './recording-publisher.js';
