import { randomBytes } from 'node:crypto';
import type { ContractRegistry } from '../contracts/registry.js';
import { protectPayload } from '../warehouse/pii.js';

/** How a dead letter's payload is shown. */
export interface MaskedPayload {
  /** The JSON text to show, already masked. */
  readonly text: string;
  /** Which rule masked it: the contract's personal-data rules, or everything (no contract known). */
  readonly masking: 'contract' | 'all';
  /** The contract (id and version) whose rules applied, when one did. */
  readonly contract?: string;
}

/**
 * Masks dead-letter payloads before the console shows them, with the loader's own rules
 * (`protectPayload`): every property the event's contract classifies as personal is hashed,
 * masked or removed as its `piiTreatment` says. Hashes use a key made for this process only, so
 * equal values look equal on one console but cannot be tested or joined anywhere else. Without
 * a contract for the event (no `--contracts`, or a version not loaded) nothing is known about
 * which fields are personal, so every scalar value is replaced and only the shape is shown.
 */
export class PayloadMasker {
  readonly #registry: ContractRegistry | undefined;
  readonly #key = randomBytes(32);

  constructor(registry: ContractRegistry | undefined) {
    this.#registry = registry;
  }

  /** The payload as it may be shown; never the raw personal values. */
  mask(data: unknown, dataschema: string | null, type: string): MaskedPayload {
    const found = this.#registry?.forEvent(dataschema ?? undefined, type);
    // protectPayload passes a non-object through untouched, so such a payload is masked whole.
    const isObject = data !== null && typeof data === 'object' && !Array.isArray(data);
    if (found === undefined || typeof found === 'string' || !isObject) return { text: pretty(maskAll(data)), masking: 'all' };
    return {
      text: pretty(protectPayload(found.properties, data, this.#key)),
      masking: 'contract',
      contract: `${found.id} ${found.version}`,
    };
  }
}

/** Every scalar replaced by `****`, keys and array lengths kept, so the shape stays readable. */
export function maskAll(data: unknown): unknown {
  if (Array.isArray(data)) return data.map(maskAll);
  if (data !== null && typeof data === 'object') {
    return Object.fromEntries(Object.entries(data as Record<string, unknown>).map(([k, v]) => [k, maskAll(v)]));
  }
  return data === null ? null : '****';
}

function pretty(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? 'null';
}
