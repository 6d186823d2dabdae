import { meanDifference, meanEstimate, normalCdf, normalTail, proportionDifference, wilson } from './stats.js';

describe('online-metric intervals', () => {
  it('Wilson: published values, bounds inside [0, 1], no trials', () => {
    // Newcombe (1998), table I: 81/263 → 0.2553–0.3662; 0/10 → 0–0.2775; 15/148 → 0.0624–0.1605.
    const a = wilson(81, 263);
    expect(a.rate).toBeCloseTo(0.308, 3);
    expect(a.low).toBeCloseTo(0.2553, 4);
    expect(a.high).toBeCloseTo(0.3662, 4);
    const zero = wilson(0, 10);
    expect(zero.low).toBe(0);
    expect(zero.high).toBeCloseTo(0.2775, 4);
    const b = wilson(15, 148);
    expect(b.low).toBeCloseTo(0.0624, 4);
    expect(b.high).toBeCloseTo(0.1605, 4);
    expect(wilson(0, 0)).toEqual({ successes: 0, trials: 0, rate: null, low: 0, high: 1 });
  });

  it('Newcombe difference: published example, significance, symmetric', () => {
    // Newcombe (1998), table II example (a): 56/70 − 48/80 → 0.0524 to 0.3339.
    const d = proportionDifference({ successes: 56, trials: 70 }, { successes: 48, trials: 80 });
    expect(d.estimate).toBeCloseTo(0.2, 6);
    expect(d.low).toBeCloseTo(0.0524, 4);
    expect(d.high).toBeCloseTo(0.3339, 4);
    expect(d.significant).toBe(true);
    expect(d.pValue).toBeLessThan(0.05);
    const flip = proportionDifference({ successes: 48, trials: 80 }, { successes: 56, trials: 70 });
    expect(flip.low).toBeCloseTo(-0.3339, 4);
    const none = proportionDifference({ successes: 10, trials: 100 }, { successes: 11, trials: 100 });
    expect(none.significant).toBe(false);
    expect(none.pValue).toBeGreaterThan(0.5);
    expect(proportionDifference({ successes: 1, trials: 0 }, { successes: 1, trials: 2 }).estimate).toBeNull();
  });

  it('means and their difference from sums', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const sum = xs.reduce((s, x) => s + x, 0);
    const sq = xs.reduce((s, x) => s + x * x, 0);
    const m = meanEstimate(xs.length, sum, sq);
    expect(m.mean).toBe(5.5);
    // sd = 3.0277, se = 0.9574 → ± 1.8765
    expect(m.high! - m.mean!).toBeCloseTo(1.8765, 3);
    const d = meanDifference(
      { n: 10, sum: sum + 50, sumSquares: xs.reduce((s, x) => s + (x + 5) ** 2, 0) },
      { n: 10, sum, sumSquares: sq },
    );
    expect(d.estimate).toBeCloseTo(5, 9);
    expect(d.significant).toBe(true);
    expect(meanEstimate(0, 0, 0).mean).toBeNull();
  });

  it('normal CDF', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
    // Far tails stay positive: P(Z > 10) = 7.62e-24.
    expect(normalTail(10)).toBeGreaterThan(0);
    expect(Math.log10(normalTail(10))).toBeCloseTo(Math.log10(7.62e-24), 1);
  });
});
