import { createHmac } from 'node:crypto';
import type { OdcsProperty } from '../contracts/contract.js';

/**
 * What happens to a personal value on its way into the warehouse:
 * - `hash`: HMAC-SHA256 with the loader's key, as 64 hex digits. Equal values give equal hashes
 *   (so tables still join on them), and without the key nobody can test a guess.
 * - `mask`: `****`, keeping only an e-mail address's domain (`****@example.com`).
 * - `drop`: the column (or nested field) does not exist in the warehouse at all.
 */
export const PiiTreatments = ['hash', 'mask', 'drop'] as const;

/** One of {@link PiiTreatments}. */
export type PiiTreatment = (typeof PiiTreatments)[number];

/** The treatment a property that is classified `pii` gets when its contract does not name one. */
export const defaultPiiTreatment: PiiTreatment = 'hash';

/**
 * The treatment of a property: `undefined` when it is not classified `pii` (case-insensitive),
 * else its `piiTreatment` custom property, else {@link defaultPiiTreatment}. An unknown treatment
 * is returned as is for the caller to refuse with the contract's name.
 */
export function piiTreatmentOf(p: Pick<OdcsProperty, 'classification' | 'customProperties'>): string | undefined {
  if (p.classification?.toLowerCase() !== 'pii') return undefined;
  const named = p.customProperties?.find((c) => c.property === 'piiTreatment')?.value;
  return named === undefined ? defaultPiiTreatment : String(named);
}

/**
 * Applies `hash` or `mask` to one value; null stays null. Hashing a string hashes its UTF-8
 * bytes, anything else its JSON text, so the same e-mail hashes alike in every contract.
 */
export function protect(value: unknown, treatment: 'hash' | 'mask', key: Buffer | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (treatment === 'hash') return createHmac('sha256', key!).update(text).digest('hex');
  const at = text.lastIndexOf('@');
  return typeof value === 'string' && at > 0 && at < text.length - 1 ? `****${text.slice(at)}` : '****';
}

/**
 * A copy of `data` with every personal property of `properties` (at any depth, inside objects
 * and arrays of objects) hashed, masked or removed. Used where a whole payload is kept, such as
 * the load dead-letter table, so that personal values never reach the warehouse raw.
 */
export function protectPayload(properties: readonly OdcsProperty[], data: unknown, key: Buffer | undefined): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const out: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const p of properties) {
    if (!(p.name in out)) continue;
    const treatment = piiTreatmentOf(p) ?? (p.items ? piiTreatmentOf(p.items) : undefined);
    if (treatment === 'drop') delete out[p.name];
    else if (treatment === 'hash' || treatment === 'mask') out[p.name] = protect(out[p.name], treatment, key);
    else if (treatment !== undefined) out[p.name] = null;
    else if (p.properties) out[p.name] = protectPayload(p.properties, out[p.name], key);
    else if (p.items?.properties && Array.isArray(out[p.name]))
      out[p.name] = (out[p.name] as unknown[]).map((v) => protectPayload(p.items!.properties!, v, key));
  }
  return out;
}

/** Whether any property, at any depth, is classified as personal data. */
export function hasPersonalData(properties: readonly OdcsProperty[]): boolean {
  return properties.some(
    (p) =>
      piiTreatmentOf(p) !== undefined ||
      (p.items !== undefined && piiTreatmentOf(p.items) !== undefined) ||
      hasPersonalData(p.properties ?? []) ||
      hasPersonalData(p.items?.properties ?? []),
  );
}
