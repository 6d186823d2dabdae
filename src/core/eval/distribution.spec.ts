import { averageRanks, compareItemCounts, headShare, jensenShannon, pearson, spearman } from './distribution.js';

describe('averageRanks', () => {
  it('ranks ascending from 1 and gives ties the mean of their ranks', () => {
    expect(Array.from(averageRanks([10, 20, 20, 30]))).toEqual([1, 2.5, 2.5, 4]);
    expect(Array.from(averageRanks([3, 1, 2]))).toEqual([3, 1, 2]);
    expect(Array.from(averageRanks([5, 5, 5]))).toEqual([2, 2, 2]);
    expect(Array.from(averageRanks([0, 7, 0, 7, 0]))).toEqual([2, 4.5, 2, 4.5, 2]);
    expect(Array.from(averageRanks([]))).toEqual([]);
    expect(() => averageRanks([1, Number.NaN])).toThrow('NaN');
  });
});

describe('spearman', () => {
  it('is 1 for any increasing relation and −1 for a decreasing one', () => {
    expect(spearman([1, 2, 3, 4], [10, 100, 1000, 10000])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it('matches scipy.stats.spearmanr with ties', () => {
    // spearmanr([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]).statistic
    expect(spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(0.8207826816681233, 12);
    // ties on both sides: the Pearson correlation of the average ranks [1.5, 1.5, 3, 4.5, 4.5]
    // and [2, 2, 2, 4, 5], 5 / (4√2) (spearmanr([0, 0, 1, 2, 2], [3, 3, 3, 8, 9]) = 0.8838834764831844)
    expect(spearman([0, 0, 1, 2, 2], [3, 3, 3, 8, 9])).toBeCloseTo(5 / (4 * Math.SQRT2), 12);
    expect(pearson([1.5, 1.5, 3, 4.5, 4.5], [2, 2, 2, 4, 5])).toBeCloseTo(0.8838834764831844, 12);
  });

  it('is NaN for a constant or too short sample, and rejects different lengths', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(spearman([1], [2])).toBeNaN();
    expect(() => spearman([1, 2], [1])).toThrow('lengths differ');
  });
});

describe('jensenShannon', () => {
  it('is 0 for identical distributions (whatever the scale) and 1 for disjoint ones', () => {
    expect(jensenShannon([1, 2, 3], [10, 20, 30])).toBeCloseTo(0, 12);
    expect(jensenShannon([1, 0], [0, 5])).toBeCloseTo(1, 12);
  });

  it('matches the definition in bits and is symmetric', () => {
    // M = [0.75, 0.25]; ½·(0.5·log2(0.5/0.75) + 0.5·log2(0.5/0.25)) + ½·log2(1/0.75)
    const expected = 0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(2)) + 0.5 * Math.log2(1 / 0.75);
    expect(jensenShannon([1, 1], [1, 0])).toBeCloseTo(expected, 12);
    expect(expected).toBeCloseTo(0.31127812445913283, 12);
    expect(jensenShannon([1, 0], [1, 1])).toBeCloseTo(expected, 12);
  });

  it('rejects negative or non-finite weights, an all-zero side and different lengths', () => {
    expect(() => jensenShannon([1, -1], [1, 1])).toThrow('≥ 0');
    expect(() => jensenShannon([1, Infinity], [1, 1])).toThrow('finite');
    expect(() => jensenShannon([0, 0], [1, 1])).toThrow('sum to 0');
    expect(() => jensenShannon([1], [1, 1])).toThrow('lengths differ');
  });
});

describe('headShare', () => {
  it("sums both distributions over the reference's top fraction of items", () => {
    // reference top 2 of 4 (⌈0.5 · 4⌉): items 3 and 0
    const s = headShare([40, 10, 0, 50], [1, 1, 1, 1], 0.5);
    expect(s.items).toBe(2);
    expect(s.reference).toBeCloseTo(0.9, 12);
    expect(s.other).toBeCloseTo(0.5, 12);
  });

  it('rounds the head up and breaks ties by the lower index', () => {
    const s = headShare([1, 1, 1], [0, 2, 2], 0.1); // head = item 0
    expect(s).toEqual({ items: 1, reference: 1 / 3, other: 0 });
    expect(headShare([1, 2], [1, 1], 1)).toEqual({ items: 2, reference: 1, other: 1 });
  });

  it('rejects a fraction outside (0, 1]', () => {
    expect(() => headShare([1], [1], 0)).toThrow('fraction');
    expect(() => headShare([1], [1], 1.5)).toThrow('fraction');
  });
});

describe('compareItemCounts', () => {
  it('covers, ranks and diverges as the measures it gathers', () => {
    const real = [10, 5, 0, 1, 4];
    const synthetic = [8, 0, 2, 1, 4];
    expect(compareItemCounts(real, synthetic)).toEqual({
      coveredReal: 4,
      coveredSynthetic: 4,
      spearman: spearman(real, synthetic),
      jensenShannon: jensenShannon(real, synthetic),
      head: headShare(real, synthetic, 0.1),
    });
    expect(compareItemCounts(real, real).jensenShannon).toBe(0);
  });
});
