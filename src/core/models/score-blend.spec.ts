import { topKOfRow as topK } from '../index/top-k.js';
import { blendScores, standardizeRows, twoWayWeights } from './score-blend.js';

describe('standardizeRows', () => {
  it('gives every row mean 0 and std 1, in place', () => {
    const s = Float32Array.from([1, 2, 3, 4, 10, 10, 10, 50]);
    const out = standardizeRows(s, 4);
    expect(out).toBe(s);
    for (const base of [0, 4]) {
      const row = Array.from(s.subarray(base, base + 4));
      const mean = row.reduce((a, b) => a + b, 0) / 4;
      const std = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 4);
      expect(mean).toBeCloseTo(0, 6);
      expect(std).toBeCloseTo(1, 5);
    }
    expect(s[1]).toBeCloseTo((2 - 2.5) / Math.sqrt(1.25), 5);
  });

  it('zeroes constant rows and leaves non-finite scores alone', () => {
    const s = Float32Array.from([7, 7, 7, -Infinity, 1, 3]);
    standardizeRows(s, 3);
    expect(Array.from(s.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(s[3]).toBe(-Infinity);
    expect(s[4]).toBeCloseTo(-1, 6);
    expect(s[5]).toBeCloseTo(1, 6);
  });

  it('rejects a length that is not a whole number of rows', () => {
    expect(() => standardizeRows(new Float32Array(5), 2)).toThrow(/whole number of rows/);
  });
});

describe('blendScores', () => {
  // Two users × 5 items, two models on very different scales.
  const a = Float32Array.from([0.1, 0.9, 0.3, 0.2, 0.5, 0.6, 0.1, 0.2, 0.8, 0.0]);
  const b = Float32Array.from([40, -3, 12, 55, 0, -8, 30, 2, 1, 9]);

  it('ranks like a single model when the other weighs 0, and does not modify its inputs', () => {
    const copyA = a.slice();
    const onlyA = blendScores([a, b], [1, 0], 5);
    const onlyB = blendScores([a, b], [0, 1], 5);
    for (let r = 0; r < 2; r++) {
      expect(topK(onlyA, 5, r, 5)).toEqual(topK(a, 5, r, 5));
      expect(topK(onlyB, 5, r, 5)).toEqual(topK(b, 5, r, 5));
    }
    expect(a).toEqual(copyA);
  });

  it('is the weighted sum of the standardised rows', () => {
    const za = standardizeRows(a.slice(), 5);
    const zb = standardizeRows(b.slice(), 5);
    const mix = blendScores([a, b], [0.3, 0.7], 5);
    for (let k = 0; k < a.length; k++) expect(mix[k]).toBeCloseTo(0.3 * za[k] + 0.7 * zb[k], 5);
  });

  it('rejects mismatched inputs', () => {
    expect(() => blendScores([a], [0.5, 0.5], 5)).toThrow(/weights/);
    expect(() => blendScores([a, b.subarray(0, 5)], [0.5, 0.5], 5)).toThrow(/size/);
  });
});

describe('twoWayWeights', () => {
  it('steps α from 0 to 1 with 1 − α', () => {
    expect(twoWayWeights(4)).toEqual([
      [0, 1],
      [0.25, 0.75],
      [0.5, 0.5],
      [0.75, 0.25],
      [1, 0],
    ]);
    expect(() => twoWayWeights(0)).toThrow(/steps/);
  });
});
