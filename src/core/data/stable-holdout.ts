/**
 * Validation users chosen by a hash of their external id rather than by a seeded draw, so that
 * every training run holds out the same users: a version trained earlier never saw the users a
 * later run validates on, and the two can be compared on them fairly (IF_BETTER activation).
 *
 * A user is held out when `hash(id) < fraction · 2³²`. While `fraction` only shrinks (it is
 * capped as the user base grows), each run's held-out users are a subset of every earlier run's.
 */

/** 32-bit FNV-1a of the UTF-16 code units of `s`, with a final avalanche (murmur3 fmix32). */
export function hashId(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Share of users to hold out: `target` users of `users`, at most `maxFraction` (default 10 %). */
export function holdoutFraction(users: number, target: number, maxFraction = 0.1): number {
  if (!(users >= 1)) return 0;
  return Math.min(maxFraction, target / users);
}

/**
 * Rows whose external id hashes below `fraction`; when fewer than `minimum` do, the `minimum` rows
 * with the smallest hashes (so tiny datasets still get a validation set).
 * @param userIds external user id of each row
 */
export function stableHoldoutRows(userIds: readonly string[], fraction: number, minimum = 1): Int32Array {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`stableHoldoutRows: fraction must be in [0, 1), got ${fraction}`);
  const threshold = fraction * 2 ** 32;
  const hashes = userIds.map(hashId);
  const rows: number[] = [];
  for (let r = 0; r < hashes.length; r++) if (hashes[r] < threshold) rows.push(r);
  if (rows.length < minimum) {
    const order = hashes.map((_, r) => r).sort((a, b) => hashes[a] - hashes[b]);
    return Int32Array.from(order.slice(0, Math.min(minimum, order.length)).sort((a, b) => a - b));
  }
  return Int32Array.from(rows);
}
