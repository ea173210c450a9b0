import { describe, expect, it } from 'vitest';
import { event } from '../src/event.js';
import { HeraldError } from '../src/errors.js';

describe('event()', () => {
  it('makes a frozen CloudEvents 1.0 envelope with a UUIDv7 id', () => {
    const e = event({ source: '/svc', type: 'orders.order-placed', data: { a: 1 }, partitionkey: 'k' });
    expect(e.specversion).toBe('1.0');
    expect(e.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.datacontenttype).toBe('application/json');
    expect(Object.isFrozen(e)).toBe(true);
    expect(new Date(e.time).toISOString()).toBe(e.time);
  });

  it('gives ids that sort by creation time', () => {
    const ids = Array.from({ length: 50 }, () => event({ source: '/s', type: 't', data: null, partitionkey: 'k' }).id);
    expect([...ids].sort()).toEqual(ids);
  });

  it('keeps an id it is given, so a retried event is the same event', () => {
    expect(event({ id: 'fixed', source: '/s', type: 't', data: 1, partitionkey: 'k' }).id).toBe('fixed');
  });

  it('refuses an empty source, type or partition key, naming the attribute', () => {
    expect(() => event({ source: '', type: 't', data: 1, partitionkey: 'k' })).toThrow(/'source'/);
    expect(() => event({ source: '/s', type: 't', data: 1, partitionkey: '' })).toThrow(HeraldError);
  });

  it('refuses a NUL or a lone surrogate in a text attribute, naming it, and keeps paired surrogates (emoji)', () => {
    const base = { source: '/s', type: 't', data: 1, partitionkey: 'k' };
    expect(() => event({ ...base, partitionkey: 'a\u0000b' })).toThrow("event attribute 'partitionkey' contains a NUL character (U+0000)");
    expect(() => event({ ...base, partitionkey: 'a\uD800' })).toThrow("event attribute 'partitionkey' contains a lone UTF-16 surrogate");
    expect(() => event({ ...base, partitionkey: '\uDC00a' })).toThrow(/lone UTF-16 surrogate/);
    expect(() => event({ ...base, subject: 'x\u0000' })).toThrow(/'subject' contains a NUL/);
    expect(() => event({ ...base, type: 't\u0000' })).toThrow(/'type'/);
    expect(event({ ...base, partitionkey: 'k-😀' }).partitionkey).toBe('k-😀');
  });

  it('refuses a traceparent that is not W3C trace context', () => {
    expect(() => event({ source: '/s', type: 't', data: 1, partitionkey: 'k', traceparent: 'nope' })).toThrow(/traceparent/);
    const ok = event({
      source: '/s',
      type: 't',
      data: 1,
      partitionkey: 'k',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(ok.traceparent).toContain('0af7651916cd43dd8448eb211c80319c');
  });
});
