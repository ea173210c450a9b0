// Herald benchmark: contract validation throughput, Herald's compiled validators next to raw ajv
// compiled from the same JSON Schema, in one run, on the same payloads.
//
//   herald  ContractRegistry.validate(contract, data): the validator compiled once at load, and
//           on failure an EVENT_INVALID naming contract, version and JSON path
//   raw     ajv.compile(contract.jsonSchema)(data), with ajv-formats, the same options
//
//   node --import tsx bench/contracts-bench.ts [--events 200000] [--rounds 5]
//
// stdout: one JSON line (starts with '{'), then a short table. Progress: stderr.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { readFile } from 'node:fs/promises';
import { parseContract } from '../src/contracts/load.js';
import { ContractRegistry, contractAjv } from '../src/contracts/registry.js';
import { log, median, readSettings, round3, runBench, table, type Setting } from './common.js';

const SETTINGS = {
  events: { env: 'BENCH_CONTRACTS_EVENTS', fallback: '200000', help: 'payloads validated per run' },
  rounds: { env: 'BENCH_CONTRACTS_ROUNDS', fallback: '5', help: 'runs per variant (the median is reported)' },
} satisfies Record<string, Setting>;

/** The realistic contracts: the example order (nested lines) and the test shipment (every type). */
const CONTRACTS = ['examples/orders/contracts/order-placed.v1.yaml', 'test/warehouse/contracts/shipment.v1.1.yaml'];

async function main(): Promise<void> {
  const { int } = readSettings(SETTINGS, 'bench/contracts-bench.ts');
  const events = int('events');
  const rounds = int('rounds');
  const results = [];
  for (const file of CONTRACTS) {
    const contract = parseContract(await readFile(file, 'utf8'), file);
    const registry = new ContractRegistry([contract]);
    const raw = contractAjv().compile(contract.jsonSchema);
    const payloads = Array.from({ length: 1000 }, (_, i) => payloadFor(contract.id, i));
    for (const p of payloads) if (!raw(p)) throw new Error(`bench payload for ${contract.id} is invalid: ${JSON.stringify(raw.errors)}`);
    const run = (validate: (data: unknown) => unknown): number => {
      const t0 = performance.now();
      for (let i = 0; i < events; i++) validate(payloads[i % payloads.length]);
      return events / ((performance.now() - t0) / 1000);
    };
    const herald: number[] = [];
    const ajv: number[] = [];
    // Warm up both, then alternate so drift hits both alike.
    run((d) => registry.validate(contract, d));
    run((d) => raw(d));
    for (let r = 0; r < rounds; r++) {
      herald.push(run((d) => registry.validate(contract, d)));
      ajv.push(run((d) => raw(d)));
    }
    const result = {
      contract: contract.id,
      heraldPerSecond: Math.round(median(herald)),
      rawAjvPerSecond: Math.round(median(ajv)),
      ratio: round3(median(herald) / median(ajv)),
    };
    log(`${contract.id}: herald ${result.heraldPerSecond}/s, raw ajv ${result.rawAjvPerSecond}/s`);
    results.push(result);
  }
  const machine = { node: process.version, cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown' };
  process.stdout.write(JSON.stringify({ bench: 'contract-validation', events, rounds, results, machine }) + '\n');
  process.stdout.write(
    '\n' +
      table(
        ['contract', 'herald validations/s', 'raw ajv validations/s', 'herald / raw'],
        results.map((r) => [r.contract, r.heraldPerSecond, r.rawAjvPerSecond, r.ratio.toFixed(2)]),
      ) +
      '\n',
  );
}

/** A valid payload of each bench contract, varied by `i`. */
function payloadFor(id: string, i: number): Record<string, unknown> {
  if (id === 'orders.order-placed') {
    return {
      orderId: randomUUID(),
      customerId: `cust-${i % 100}`,
      customerEmail: `cust-${i}@example.com`,
      total: 10 + (i % 50),
      currency: 'EUR',
      placedAt: new Date(Date.UTC(2026, 10, 29, 12, 0, i % 60)).toISOString(),
      lines: [
        { sku: `sku-${i}`, quantity: 1 + (i % 3), unitPrice: 9.5 },
        { sku: 'sku-x', quantity: 2, unitPrice: 0.25 },
      ],
    };
  }
  return {
    shipmentId: randomUUID(),
    carrier: ['dhl', 'ups', 'post'][i % 3],
    weightKg: 1.5 + i,
    parcels: 1 + (i % 4),
    insured: i % 2 === 0,
    declaredValue: 99.95,
    shippedAt: '2026-11-29T18:30:00.250Z',
    shipDate: '2026-11-29',
    cutoff: '17:45:00Z',
    order: `ord-${i}`,
    recipient: { name: 'Ada', email: 'ada@example.com', birthYear: 1815, city: 'London', country: 'UK' },
    phone: '+44 20 0000',
    tags: ['fragile'],
    aliases: ['Countess'],
    items: [{ sku: 'A-1', qty: 2 }],
    extra: [1, 'two'],
    service: 'overnight',
  };
}

void runBench(main);
