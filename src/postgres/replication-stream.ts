import { HeraldError, ErrorCodes } from '../errors.js';
import { connectPg, isConnectionError, type PgClient } from './connect.js';
import { slotInvalidated } from './logical-setup.js';
import type { Lsn } from './lsn.js';
import { decodeStreamMessage, standbyStatusUpdate, type StreamMessage } from './pgoutput.js';

/** Options of {@link openReplicationStream}. */
export interface ReplicationStreamOptions {
  readonly database: string;
  readonly slot: string;
  readonly publication: string;
  /** Called for every message, in stream order, synchronously. */
  readonly onMessage: (message: StreamMessage) => void;
}

/** A running `START_REPLICATION` of one slot with the pgoutput plugin. */
export interface ReplicationStream {
  /** Settles when the stream ends: resolves on `close()`, rejects when the connection fails. */
  readonly ended: Promise<void>;
  /** The server process id of the replication connection (the slot's `active_pid` while it streams). */
  readonly pid: number;
  /** Confirms to the server that everything before `lsn` is processed (the slot may advance). */
  confirm(lsn: Lsn, replyRequested?: boolean): void;
  /** Stops reading from the socket; the server stops sending once its buffers fill (backpressure). */
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * Opens a replication connection and starts streaming `slot` from its confirmed position, with
 * the publication's inserts and logical messages (`pg_logical_emit_message`). Column values
 * arrive in binary send format, which spares the server's single decoding process the text
 * output of every uuid, bigint and timestamp (measured: it is what limits the table mode).
 * Resolves once the server has started the stream; rejects with a clear error when the slot is
 * missing, invalidated or streamed by another relay (retryable: this relay waits as a standby).
 */
export async function openReplicationStream(options: ReplicationStreamOptions): Promise<ReplicationStream> {
  const client = await connectPg(options.database, 'herald-relay-logical', {
    replication: 'database',
  });
  const connection = (client as unknown as { connection: PgConnection }).connection;
  let closing = false;
  const started = new Promise<void>((resolve) => connection.once('replicationStart', () => resolve()));
  connection.on('copyData', (msg: { chunk: Buffer }) => {
    const message = decodeStreamMessage(msg.chunk);
    if (message) options.onMessage(message);
  });
  const query = client.query(
    `START_REPLICATION SLOT "${options.slot}" LOGICAL 0/0 (proto_version '1', publication_names '"${options.publication}"', messages 'true', binary 'true')`,
  );
  const ended = query.then(
    () => undefined,
    (cause: unknown) => {
      if (closing) return;
      throw streamError(cause, options.slot, options.publication);
    },
  );
  try {
    await Promise.race([started, ended]);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  // The stream may end right after it started; the caller observes that through `ended`.
  ended.catch(() => undefined);
  return {
    ended,
    pid: (client as unknown as { processID: number }).processID,
    confirm(lsn: Lsn, replyRequested = false): void {
      if (!closing) connection.sendCopyFromChunk(standbyStatusUpdate(lsn, replyRequested));
    },
    pause: () => connection.stream.pause(),
    resume: () => connection.stream.resume(),
    async close(): Promise<void> {
      if (closing) return;
      closing = true;
      await endQuietly(client);
    },
  };
}

/** The parts of node-postgres' internal connection that streaming replication needs. */
interface PgConnection {
  once(event: 'replicationStart', fn: () => void): void;
  on(event: 'copyData', fn: (msg: { chunk: Buffer }) => void): void;
  sendCopyFromChunk(chunk: Buffer): void;
  readonly stream: { pause(): void; resume(): void };
}

async function endQuietly(client: PgClient): Promise<void> {
  await client.end().catch(() => undefined);
}

function streamError(cause: unknown, slot: string, publication: string): HeraldError {
  const code = (cause as { code?: string }).code ?? '';
  const message = (cause as Error).message ?? String(cause);
  if (code === '42704' && /replication slot/.test(message)) {
    return new HeraldError(ErrorCodes.NOT_MIGRATED, `replication slot '${slot}' does not exist: run 'herald migrate --source logical'`, {
      cause,
      details: { slot },
    });
  }
  if (/publication .* does not exist/.test(message)) {
    return new HeraldError(ErrorCodes.NOT_MIGRATED, `publication '${publication}' does not exist: run 'herald migrate --source logical'`, {
      cause,
      details: { publication },
    });
  }
  if (/invalidated|can no longer get changes|has already been removed/.test(message)) return slotInvalidated(slot, cause);
  if (code === '55006') {
    return new HeraldError(
      ErrorCodes.DATABASE_ERROR,
      `replication slot '${slot}' is streamed by another relay (${message}); this relay waits as a standby and takes over when it stops`,
      { cause, retryable: true, details: { slot } },
    );
  }
  if (code === '42501') {
    return new HeraldError(ErrorCodes.PERMISSION_DENIED, `cannot stream replication slot '${slot}': ${message}`, {
      cause,
      details: { slot },
    });
  }
  return new HeraldError(ErrorCodes.DATABASE_ERROR, `replication of slot '${slot}' stopped: ${message}`, {
    cause,
    retryable: isConnectionError(cause) || code === '' || code.startsWith('57'),
    details: { slot, sqlstate: code },
  });
}
