import { csrFromTriples } from '../data/csr.js';
import { Ease, invertSpdInPlace, Popularity } from './ease.js';

describe('invertSpdInPlace', () => {
  it('inverts an SPD matrix (A·A⁻¹ = I)', () => {
    const n = 6;
    // A = MᵀM + I is SPD.
    const m = Array.from({ length: n * n }, (_, i) => Math.sin(i * 1.7) * 2);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = i === j ? 1 : 0;
        for (let k = 0; k < n; k++) s += m[k * n + i] * m[k * n + j];
        a[i * n + j] = s;
      }
    const inv = Float64Array.from(a);
    invertSpdInPlace(inv, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * inv[k * n + j];
        expect(s).toBeCloseTo(i === j ? 1 : 0, 9);
      }
  });

  it('rejects a matrix that is not positive definite', () => {
    expect(() => invertSpdInPlace(Float64Array.from([0, 1, 1, 0]), 2)).toThrow(/positive definite/);
  });
});

describe('Ease', () => {
  // Items 0 and 1 always co-occur; item 2 goes with 3.
  const train = csrFromTriples(4, 4, [0, 0, 1, 1, 2, 2, 3], [0, 1, 0, 1, 2, 3, 2]);

  it('has a zero diagonal and learns co-occurrence', () => {
    const ease = Ease.fit(train, { lambda: 0.5 });
    for (let i = 0; i < 4; i++) expect(ease.weights[i * 4 + i]).toBe(0);
    const scores = ease.score(csrFromTriples(1, 4, [0], [0]));
    expect(scores[1]).toBeGreaterThan(scores[2]);
    expect(scores[1]).toBeGreaterThan(scores[3]);
  });

  it('round-trips through bytes', () => {
    const ease = Ease.fit(train, { lambda: 0.5 });
    const back = Ease.fromBytes(ease.toBytes());
    expect(back.lambda).toBe(0.5);
    expect(Array.from(back.weights)).toEqual(Array.from(ease.weights));
    expect(() => Ease.fromBytes(new Uint8Array(5))).toThrow(/not an EASE model/);
  });

  it('matches the closed form on a tiny case', () => {
    // One item pair seen together by one user: G = [[1,1],[1,1]] + λI, λ = 1.
    const ease = Ease.fit(csrFromTriples(1, 2, [0, 0], [0, 1]), { lambda: 1 });
    // P = (1/3)[[2,−1],[−1,2]]; B[0][1] = −P01/P11 = 0.5.
    expect(ease.weights[1]).toBeCloseTo(0.5, 6);
    expect(ease.weights[2]).toBeCloseTo(0.5, 6);
  });
});

describe('Popularity', () => {
  it('scores every user with the training counts', () => {
    const pop = Popularity.fit(csrFromTriples(3, 3, [0, 1, 2, 2], [2, 2, 2, 0]));
    expect(Array.from(pop.score(csrFromTriples(2, 3, [], [])))).toEqual([1, 0, 3, 1, 0, 3]);
  });
});
