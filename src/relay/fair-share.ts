/**
 * The buckets relay `self` should own among the `live` relays (itself included): relay ids are
 * sorted by code unit — in JavaScript, never by a database collation — and bucket b goes to the
 * relay at index b mod n, so every relay computes the same split without talking to the others.
 * Used by every polling source's rebalance.
 */
export function fairShare(live: readonly string[], self: string, buckets: number): { relays: number; mine: number[] } {
  const ids = [...new Set([...live, self])].sort();
  const index = ids.indexOf(self);
  return { relays: ids.length, mine: Array.from({ length: buckets }, (_, b) => b).filter((b) => b % ids.length === index) };
}
