import { randomUUID } from 'node:crypto';
import { ContractRegistry } from '../../src/contracts/registry.js';
import { parseContract } from '../../src/contracts/load.js';
import { readFileSync } from 'node:fs';

const EXAMPLE = readFileSync('examples/orders/contracts/order-placed.v1.yaml', 'utf8');

/** The example contract, optionally routed to another topic so tests do not share topics. */
export function orderContracts(topic = 'orders.order-placed.v1'): ContractRegistry {
  return new ContractRegistry([parseContract(EXAMPLE.replace('value: orders.order-placed.v1', `value: ${topic}`), 'order-placed.v1.yaml')]);
}

/** A valid order-placed payload for `customerId`, with `seq` in the sku so order can be checked. */
export function orderPlaced(customerId: string, seq = 0, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    orderId: randomUUID(),
    customerId,
    total: 10,
    currency: 'EUR',
    placedAt: '2026-11-29T18:00:00.000Z',
    lines: [{ sku: `seq-${seq}`, quantity: 1, unitPrice: 10 }],
    ...extra,
  };
}

/** Reads the `seq` put into an order-placed payload by {@link orderPlaced}. */
export function seqOf(payload: string): number {
  return Number((JSON.parse(payload) as { lines: { sku: string }[] }).lines[0]!.sku.slice(4));
}

/** Per key, the sequence numbers of the first delivery of each event. */
export function firstSeqs(messages: readonly { key: string; payload: string; headers: Record<string, string> }[], key: string): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const m of messages.filter((x) => x.key === key)) {
    if (seen.has(m.headers.ce_id!)) continue;
    seen.add(m.headers.ce_id!);
    out.push(seqOf(m.payload));
  }
  return out;
}
