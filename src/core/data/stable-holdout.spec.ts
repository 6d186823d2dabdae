import { hashId, holdoutFraction, stableHoldoutRows } from './stable-holdout.js';

describe('stable hold-out users', () => {
  const ids = Array.from({ length: 20_000 }, (_, k) => `user-${k}`);

  it('hashes ids uniformly enough that a fraction selects about that share', () => {
    const rows = stableHoldoutRows(ids, 0.1);
    expect(rows.length).toBeGreaterThan(1800);
    expect(rows.length).toBeLessThan(2200);
    expect(hashId('a')).not.toBe(hashId('b'));
    expect(hashId('user-1')).toBe(hashId('user-1'));
  });

  it('selects by id, not by row: the same users whatever order or other users there are', () => {
    const a = new Set(Array.from(stableHoldoutRows(ids, 0.05), (r) => ids[r]));
    const shuffled = [...ids.slice(10_000), 'new-1', 'new-2', ...ids.slice(0, 10_000)].reverse();
    const b = new Set(Array.from(stableHoldoutRows(shuffled, 0.05), (r) => shuffled[r]));
    for (const id of a) expect(b.has(id)).toBe(true);
    for (const id of b) expect(a.has(id) || id.startsWith('new-')).toBe(true);
  });

  it('a smaller fraction selects a subset (runs on a growing user base stay comparable)', () => {
    const big = new Set(stableHoldoutRows(ids, holdoutFraction(5_000, 500)));
    const small = stableHoldoutRows(ids, holdoutFraction(20_000, 500));
    expect(small.length).toBeLessThan(big.size);
    for (const r of small) expect(big.has(r)).toBe(true);
  });

  it('falls back to the smallest hashes when too few ids fall under the fraction', () => {
    const few = ['a', 'b', 'c', 'd'];
    const rows = stableHoldoutRows(few, 0.01, 2);
    expect(rows.length).toBe(2);
    const hashes = few.map(hashId);
    const best = hashes.map((h, r) => [h, r]).sort((x, y) => x[0] - y[0]).slice(0, 2).map(([, r]) => r).sort();
    expect(Array.from(rows)).toEqual(best);
    expect(() => stableHoldoutRows(few, 1)).toThrow(/fraction/);
  });
});
