import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../../src/postgres/lsn.js';
import { columnText, decodePgOutput, decodeStreamMessage, standbyStatusUpdate } from '../../src/postgres/pgoutput.js';
import { decodeWalMessage, encodeWalMessage } from '../../src/postgres/wal-message.js';
import type { OutgoingEvent } from '../../src/brokers/publisher.js';

/** Builds protocol messages byte by byte, the way the PostgreSQL manual lays them out. */
class Writer {
  readonly parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    this.parts.push(Buffer.from(s + '\0'));
    return this;
  }
  raw(b: Buffer | string): this {
    this.parts.push(Buffer.from(b));
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** 2026-11-29T12:00:00.000Z in microseconds since 2000-01-01. */
const NOON = BigInt(Date.parse('2026-11-29T12:00:00.000Z') - Date.parse('2000-01-01T00:00:00.000Z')) * 1000n;

describe('LSNs', () => {
  it('parse and format like PostgreSQL, and compare as 64-bit numbers rather than strings', () => {
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(parseLsn('0/0'))).toBe('0/0');
    // As strings '9/0' > '10/0'; as positions it is the other way round.
    expect(parseLsn('9/0') < parseLsn('10/0')).toBe(true);
    expect(() => parseLsn('16-B3')).toThrow(/not a PostgreSQL LSN/);
  });
});

describe('streaming replication messages', () => {
  it('decodes XLogData with its start position and body', () => {
    const m = decodeStreamMessage(new Writer().u8(0x77).u64(10n).u64(20n).u64(0n).raw('body').done());
    expect(m).toMatchObject({ kind: 'xlog', start: 10n, walEnd: 20n });
    expect(m?.kind === 'xlog' && m.body.toString()).toBe('body');
  });

  it('decodes a keepalive and whether the server wants a reply', () => {
    expect(decodeStreamMessage(new Writer().u8(0x6b).u64(99n).u64(0n).u8(1).done())).toEqual({
      kind: 'keepalive',
      walEnd: 99n,
      replyRequested: true,
    });
    expect(decodeStreamMessage(Buffer.from([0x00]))).toBeUndefined();
  });

  it('encodes a standby status update confirming the flushed position and the clock in PostgreSQL epoch', () => {
    const b = standbyStatusUpdate(0x1234n, true, Date.parse('2026-11-29T12:00:00.000Z'));
    expect(b.length).toBe(34);
    expect(String.fromCharCode(b[0]!)).toBe('r');
    expect([b.readBigUInt64BE(1), b.readBigUInt64BE(9), b.readBigUInt64BE(17)]).toEqual([0x1234n, 0x1234n, 0x1234n]);
    expect(b.readBigInt64BE(25)).toBe(NOON);
    expect(b[33]).toBe(1);
  });
});

describe('pgoutput messages', () => {
  it('decodes begin and commit with their LSNs and commit time', () => {
    expect(decodePgOutput(new Writer().raw('B').u64(500n).u64(NOON).u32(42).done())).toEqual({
      tag: 'begin',
      finalLsn: 500n,
      commitTime: new Date('2026-11-29T12:00:00.000Z'),
      xid: 42,
    });
    expect(decodePgOutput(new Writer().raw('C').u8(0).u64(500n).u64(520n).u64(NOON).done())).toEqual({
      tag: 'commit',
      commitLsn: 500n,
      endLsn: 520n,
      commitTime: new Date('2026-11-29T12:00:00.000Z'),
    });
  });

  it('decodes a relation and an insert with text, null and unchanged values', () => {
    const relation = new Writer().raw('R').u32(16384).str('herald').str('outbox').u8(100).u16(2);
    relation.u8(1).str('id').u32(20).u32(0xffffffff);
    relation.u8(0).str('data').u32(114).u32(0xffffffff);
    expect(decodePgOutput(relation.done())).toEqual({
      tag: 'relation',
      oid: 16384,
      schema: 'herald',
      name: 'outbox',
      columns: [
        { name: 'id', typeOid: 20 },
        { name: 'data', typeOid: 114 },
      ],
    });
    const insert = new Writer()
      .raw('I')
      .u32(16384)
      .raw('N')
      .u16(3)
      .raw('t')
      .u32(2)
      .raw('17')
      .raw('n')
      .raw('t')
      .u32(8)
      .raw('{"é":1}')
      .done();
    expect(decodePgOutput(insert)).toEqual({ tag: 'insert', relation: 16384, values: ['17', null, '{"é":1}'] });
  });

  it('keeps binary values as bytes, and reads the outbox column types from their send format', () => {
    const insert = new Writer().raw('I').u32(1).raw('N').u16(2).raw('b').u32(8).u64(42n).raw('n').done();
    const m = decodePgOutput(insert);
    expect(m.tag === 'insert' && Buffer.isBuffer(m.values[0])).toBe(true);
    const int8 = Buffer.alloc(8);
    int8.writeBigInt64BE(-9007199254740993n);
    expect(columnText(int8, 20)).toBe('-9007199254740993');
    const int4 = Buffer.alloc(4);
    int4.writeInt32BE(7);
    expect(columnText(int4, 23)).toBe('7');
    expect(columnText(Buffer.from('0192f0c4000070008000000000000001', 'hex'), 2950)).toBe('0192f0c4-0000-7000-8000-000000000001');
    const ts = Buffer.alloc(8);
    ts.writeBigInt64BE(NOON + 123_000n);
    expect(columnText(ts, 1184)).toBe('2026-11-29T12:00:00.123Z');
    expect(columnText(Buffer.from('{"é":1}'), 114)).toBe('{"é":1}');
    expect(columnText('text stays', 25)).toBe('text stays');
    expect(columnText(null, 25)).toBeNull();
  });

  it('decodes a logical message with its transactional flag, prefix and content', () => {
    const m = decodePgOutput(new Writer().raw('M').u8(1).u64(777n).str('herald:orders').u32(5).raw('hello').done());
    expect(m).toMatchObject({ tag: 'message', transactional: true, lsn: 777n, prefix: 'herald:orders' });
    expect(m.tag === 'message' && m.content.toString()).toBe('hello');
  });

  it('reports every other message kind as other instead of misreading it', () => {
    expect(decodePgOutput(new Writer().raw('U').u32(1).done())).toEqual({ tag: 'other', code: 'U' });
  });
});

describe('WAL-message events', () => {
  const outgoing: OutgoingEvent = {
    topic: 'orders.v1',
    data: '{"b":1.0,"a":[1,2],"10":"x"}',
    event: {
      specversion: '1.0',
      id: '0192f0c4-0000-7000-8000-000000000001',
      source: '/orders',
      type: 'com.example.order.placed',
      time: '2026-11-29T12:00:00.000Z',
      datacontenttype: 'application/json',
      partitionkey: 'c-1',
      dataschema: 'urn:herald:contract:orders.order-placed:1.0.0',
    },
  };

  it('round-trip with the payload bytes unchanged (no re-serialisation, key order and 1.0 kept)', () => {
    const back = decodeWalMessage(encodeWalMessage(outgoing));
    expect(back).toEqual(outgoing);
    expect(back.data).toBe('{"b":1.0,"a":[1,2],"10":"x"}');
  });

  it('refuse content that is not a Herald event', () => {
    expect(() => decodeWalMessage('just text')).toThrow(/not a Herald event/);
    expect(() => decodeWalMessage('{"topic":"t"}\n{}')).toThrow(/not a Herald event/);
  });
});
