import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { DeliveryRate, sparkline } from '../../src/console/delivery-rate.js';
import { html, raw } from '../../src/console/html.js';
import { maskAll, PayloadMasker } from '../../src/console/mask.js';
import { cookieOf, hostAllowed, sameOrigin, tokenMatches } from '../../src/console/security.js';
import { orderContracts } from '../support/contracts.js';

const req = (headers: Record<string, string>): IncomingMessage => ({ headers }) as unknown as IncomingMessage;
const HOSTS = new Set(['127.0.0.1:9465', 'localhost:9465']);

describe('the console escaping helper', () => {
  it('escapes every interpolated value, in content and attributes, and passes only its own markup through', () => {
    const hostile = `<img src=x onerror="alert('x')">&`;
    const out = html`<p title="${hostile}">${hostile}${html`<b>${hostile}</b>`}${[hostile, 1]}${null}${false}</p>`.toString();
    expect(out).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;">' +
        '&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;<b>&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;</b>' +
        '&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;1</p>',
    );
    expect(html`${raw('<br>')}`.toString()).toBe('<br>');
  });
});

describe('the console request checks', () => {
  it('compares tokens in full, whatever their lengths', () => {
    expect(tokenMatches('secret-token', 'secret-token')).toBe(true);
    expect(tokenMatches('secret-toke', 'secret-token')).toBe(false);
    expect(tokenMatches('secret-token-and-more', 'secret-token')).toBe(false);
    expect(tokenMatches(undefined, 'secret-token')).toBe(false);
  });

  it('accepts only its own hosts, and an Origin or Referer of its own', () => {
    expect(hostAllowed(req({ host: '127.0.0.1:9465' }), HOSTS)).toBe(true);
    expect(hostAllowed(req({ host: 'evil.example:9465' }), HOSTS)).toBe(false);
    expect(hostAllowed(req({}), HOSTS)).toBe(false);
    expect(sameOrigin(req({ origin: 'http://127.0.0.1:9465' }), HOSTS)).toBe(true);
    expect(sameOrigin(req({ origin: 'http://127.0.0.1:9466' }), HOSTS)).toBe(false);
    expect(sameOrigin(req({ origin: 'https://127.0.0.1:9465' }), HOSTS)).toBe(false);
    expect(sameOrigin(req({ origin: 'null' }), HOSTS)).toBe(false);
    expect(sameOrigin(req({ referer: 'http://localhost:9465/dead-letters' }), HOSTS)).toBe(true);
    expect(sameOrigin(req({ referer: 'http://evil.example/' }), HOSTS)).toBe(false);
    // Origin wins over a Referer that looks right.
    expect(sameOrigin(req({ origin: 'http://evil.example', referer: 'http://127.0.0.1:9465/' }), HOSTS)).toBe(false);
    expect(sameOrigin(req({}), HOSTS)).toBe(true);
  });

  it('reads one cookie among several', () => {
    expect(cookieOf(req({ cookie: 'a=1; herald_console=t%20x; b=2' }), 'herald_console')).toBe('t x');
    expect(cookieOf(req({ cookie: 'a=1' }), 'herald_console')).toBeUndefined();
  });
});

describe('the delivery rate', () => {
  it('turns counter samples into rates per second, and starts over when the counter goes down', () => {
    const rate = new DeliveryRate(3);
    rate.record(100, 0);
    rate.record(150, 1000);
    rate.record(150, 2000);
    rate.record(10, 3000); // a statistics reset: no negative rate
    rate.record(30, 5000);
    expect(rate.points).toEqual([
      { at: 1000, perSecond: 50 },
      { at: 2000, perSecond: 0 },
      { at: 5000, perSecond: 10 },
    ]);
    const svg = sparkline(rate.points).toString();
    expect(svg).toContain('data-rate="10.00"');
    expect(svg).toContain('data-peak="50.00"');
    expect(sparkline([]).toString()).toContain('no delivery rate yet');
  });
});

describe('payload masking', () => {
  it("masks personal fields by the event's contract and everything when no contract is known", () => {
    const masker = new PayloadMasker(orderContracts());
    const data = { orderId: 'o-1', customerId: 'cust-1', customerEmail: 'ada@example.com', total: 10 };
    const byContract = masker.mask(data, 'urn:herald:contract:orders.order-placed:1.0.0', 'orders.order-placed');
    expect(byContract.masking).toBe('contract');
    expect(JSON.parse(byContract.text)).toEqual({ ...data, customerEmail: '****@example.com' });
    const unknown = masker.mask(data, 'urn:herald:contract:other:1.0.0', 'other');
    expect(unknown.masking).toBe('all');
    expect(JSON.parse(unknown.text)).toEqual({ orderId: '****', customerId: '****', customerEmail: '****', total: '****' });
    expect(new PayloadMasker(undefined).mask('ada@example.com', null, 'x').text).toBe('"****"');
    expect(maskAll({ a: [1, { b: null }] })).toEqual({ a: ['****', { b: null }] });
  });
});
