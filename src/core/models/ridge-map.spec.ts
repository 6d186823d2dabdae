import { Random } from '../data/random.js';
import { RidgeMap } from './ridge-map.js';

describe('RidgeMap', () => {
  it('recovers a noiseless linear map with intercept, and shrinks with λ', () => {
    const rng = new Random(4);
    const n = 200,
      p = 5,
      q = 3;
    const truth = Float32Array.from({ length: (p + 1) * q }, () => rng.uniform() * 2 - 1);
    const x = Float32Array.from({ length: n * p }, () => rng.uniform() * 2 - 1);
    const y = new Float32Array(n * q);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < q; c++) {
        let s = truth[p * q + c];
        for (let k = 0; k < p; k++) s += x[i * p + k] * truth[k * q + c];
        y[i * q + c] = s;
      }
    const exact = RidgeMap.fit(x, y, n, p, q, 0);
    for (let i = 0; i < truth.length; i++) expect(exact.weights[i]).toBeCloseTo(truth[i], 4);
    const pred = exact.apply(x.subarray(0, 2 * p), 2);
    for (let i = 0; i < 2 * q; i++) expect(pred[i]).toBeCloseTo(y[i], 4);
    const shrunk = RidgeMap.fit(x, y, n, p, q, 1e4);
    const norm = (m: RidgeMap) => m.weights.subarray(0, p * q).reduce((s, v) => s + v * v, 0);
    expect(norm(shrunk)).toBeLessThan(norm(exact) * 0.1);
    expect(() => RidgeMap.fit(x, y, n, p + 1, q, 1)).toThrow(/expected 200×6/);
  });
});
