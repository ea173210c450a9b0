/**
 * Decoding of the streaming-replication protocol and of the `pgoutput` logical decoding output
 * (protocol version 1), as documented in the PostgreSQL manual ("Streaming Replication Protocol"
 * and "Logical Replication Message Formats"). Only what the outbox relay needs is decoded:
 * transactions, relations, inserts and logical messages; every other message is reported as
 * `other` so that nothing is misread.
 */
import type { Lsn } from './lsn.js';

/** Microseconds between the Unix epoch and PostgreSQL's epoch, 2000-01-01. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;

/** A message of the replication stream (inside CopyData). */
export type StreamMessage =
  | { readonly kind: 'xlog'; readonly start: Lsn; readonly walEnd: Lsn; readonly body: Buffer }
  | { readonly kind: 'keepalive'; readonly walEnd: Lsn; readonly replyRequested: boolean };

/** One column of a relation, as announced by a Relation message. */
export interface RelationColumn {
  readonly name: string;
  readonly typeOid: number;
}

/**
 * A decoded pgoutput message. Tuple values are PostgreSQL's text output (a string), its binary
 * send format (a Buffer, when the stream was started with `binary 'true'`), or null.
 */
export type PgOutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: Lsn; readonly commitTime: Date; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: Lsn; readonly endLsn: Lsn; readonly commitTime: Date }
  | { readonly tag: 'relation'; readonly oid: number; readonly schema: string; readonly name: string; readonly columns: RelationColumn[] }
  | { readonly tag: 'insert'; readonly relation: number; readonly values: (string | Buffer | null)[] }
  | { readonly tag: 'message'; readonly transactional: boolean; readonly lsn: Lsn; readonly prefix: string; readonly content: Buffer }
  | { readonly tag: 'other'; readonly code: string };

/** Type OIDs of the outbox columns, for reading their binary send format. */
const INT8 = 20;
const INT4 = 23;
const UUID = 2950;
const TIMESTAMPTZ = 1184;

/**
 * Reads one column value sent in binary mode as the text the relay needs: integers as decimal,
 * uuids in their canonical form, timestamps as RFC 3339 (UTC); text, varchar and json are UTF-8
 * already. Text-mode values (strings) pass through.
 */
export function columnText(value: string | Buffer | null, typeOid: number): string | null {
  if (value === null || typeof value === 'string') return value;
  switch (typeOid) {
    case INT8:
      return value.readBigInt64BE(0).toString();
    case INT4:
      return String(value.readInt32BE(0));
    case UUID: {
      const h = value.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case TIMESTAMPTZ:
      return new Date(Number((value.readBigInt64BE(0) + PG_EPOCH_MICROS) / 1000n)).toISOString();
    default:
      return value.toString('utf8');
  }
}

/** Decodes one CopyData payload of a replication connection; undefined for unknown kinds. */
export function decodeStreamMessage(buf: Buffer): StreamMessage | undefined {
  if (buf[0] === 0x77 /* w */) {
    return { kind: 'xlog', start: buf.readBigUInt64BE(1), walEnd: buf.readBigUInt64BE(9), body: buf.subarray(25) };
  }
  if (buf[0] === 0x6b /* k */) {
    return { kind: 'keepalive', walEnd: buf.readBigUInt64BE(1), replyRequested: buf[17] === 1 };
  }
  return undefined;
}

/**
 * The Standby Status Update a client sends to confirm progress: `flushed` is the position up to
 * which the server may discard WAL for this slot (it becomes the slot's `confirmed_flush_lsn`).
 */
export function standbyStatusUpdate(flushed: Lsn, replyRequested = false, now = Date.now()): Buffer {
  const buf = Buffer.alloc(34);
  buf[0] = 0x72; // 'r'
  buf.writeBigUInt64BE(flushed, 1); // written
  buf.writeBigUInt64BE(flushed, 9); // flushed
  buf.writeBigUInt64BE(flushed, 17); // applied
  buf.writeBigInt64BE(BigInt(now) * 1000n - PG_EPOCH_MICROS, 25);
  buf[33] = replyRequested ? 1 : 0;
  return buf;
}

/** Decodes one pgoutput message (the body of an XLogData message). */
export function decodePgOutput(body: Buffer): PgOutputMessage {
  const r = new Reader(body);
  const tag = String.fromCharCode(r.u8());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.time(), xid: r.u32() };
    case 'C': {
      r.u8(); // flags, unused
      return { tag: 'commit', commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.time() };
    }
    case 'R': {
      const oid = r.u32();
      const schema = r.cstring();
      const name = r.cstring();
      r.u8(); // replica identity
      const columns: RelationColumn[] = [];
      for (let i = r.u16(); i > 0; i--) {
        r.u8(); // flags (part of the key)
        const column = r.cstring();
        const typeOid = r.u32();
        r.u32(); // type modifier
        columns.push({ name: column, typeOid });
      }
      return { tag: 'relation', oid, schema, name, columns };
    }
    case 'I': {
      const relation = r.u32();
      r.u8(); // 'N': a new tuple follows
      return { tag: 'insert', relation, values: r.tuple() };
    }
    case 'M': {
      const transactional = (r.u8() & 1) === 1;
      const lsn = r.u64();
      const prefix = r.cstring();
      const content = r.bytes(r.u32());
      return { tag: 'message', transactional, lsn, prefix, content };
    }
    default:
      return { tag: 'other', code: tag };
  }
}

/** Big-endian reader over one message. */
class Reader {
  #at = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    return this.buf.readUInt8(this.#at++);
  }
  u16(): number {
    const v = this.buf.readUInt16BE(this.#at);
    this.#at += 2;
    return v;
  }
  u32(): number {
    const v = this.buf.readUInt32BE(this.#at);
    this.#at += 4;
    return v;
  }
  u64(): bigint {
    const v = this.buf.readBigUInt64BE(this.#at);
    this.#at += 8;
    return v;
  }
  time(): Date {
    return new Date(Number((this.buf.readBigInt64BE((this.#at += 8) - 8) + PG_EPOCH_MICROS) / 1000n));
  }
  cstring(): string {
    const end = this.buf.indexOf(0, this.#at);
    const s = this.buf.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return s;
  }
  bytes(n: number): Buffer {
    const b = this.buf.subarray(this.#at, this.#at + n);
    this.#at += n;
    return b;
  }
  tuple(): (string | Buffer | null)[] {
    const values: (string | Buffer | null)[] = [];
    for (let i = this.u16(); i > 0; i--) {
      const kind = String.fromCharCode(this.u8());
      // 'n' null, 'u' unchanged TOAST value (never in an insert), 't' text, 'b' binary.
      if (kind === 't') values.push(this.bytes(this.u32()).toString('utf8'));
      else if (kind === 'b') values.push(Buffer.from(this.bytes(this.u32())));
      else values.push(null);
    }
    return values;
  }
}
