import { leadingEigenvectors, pca } from './pca.js';

/** A seeded generator (mulberry32) for test data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('leadingEigenvectors', () => {
  it('finds the eigenpairs of a diagonal matrix, largest first', () => {
    const m = new Float64Array([1, 0, 0, 0, 5, 0, 0, 0, 3]);
    const { vectors, values } = leadingEigenvectors(m, 3, 2);
    expect(values[0]).toBeCloseTo(5, 8);
    expect(values[1]).toBeCloseTo(3, 8);
    expect(Math.abs(vectors[1])).toBeCloseTo(1, 6);
    expect(Math.abs(vectors[3 + 2])).toBeCloseTo(1, 6);
  });
});

describe('pca', () => {
  it('recovers the plane of points spread along two known directions in 6-D', async () => {
    const random = rng(7);
    const dim = 6;
    const n = 400;
    const u = [1, 1, 0, 0, 0, 0].map((x) => x / Math.SQRT2);
    const v = [0, 0, 1, -1, 0, 0].map((x) => x / Math.SQRT2);
    const data = new Float32Array(n * dim);
    const truth: [number, number][] = [];
    for (let r = 0; r < n; r++) {
      const a = (random() - 0.5) * 10; // variance ≈ 8.3
      const b = (random() - 0.5) * 4; // variance ≈ 1.3
      truth.push([a, b]);
      for (let d = 0; d < dim; d++) data[r * dim + d] = a * u[d] + b * v[d] + (random() - 0.5) * 0.01 + 3;
    }
    const out = await pca(data, dim, { normalize: false });
    expect(out.components).toBe(2);
    expect(out.coordinates).toHaveLength(n * 2);
    // Axis 1 is ±a (centred), axis 2 is ±b: correlation ≈ ±1.
    const corr = (xs: number[], ys: number[]) => {
      const mx = xs.reduce((s, x) => s + x, 0) / xs.length;
      const my = ys.reduce((s, y) => s + y, 0) / ys.length;
      let sxy = 0,
        sxx = 0,
        syy = 0;
      xs.forEach((x, i) => ((sxy += (x - mx) * (ys[i] - my)), (sxx += (x - mx) ** 2), (syy += (ys[i] - my) ** 2)));
      return sxy / Math.sqrt(sxx * syy);
    };
    const x = Array.from({ length: n }, (_, r) => out.coordinates[r * 2]);
    const y = Array.from({ length: n }, (_, r) => out.coordinates[r * 2 + 1]);
    expect(
      Math.abs(
        corr(
          x,
          truth.map((t) => t[0]),
        ),
      ),
    ).toBeGreaterThan(0.999);
    // (a and b are not exactly uncorrelated in a finite sample, so axis 2 mixes in a little of a.)
    expect(
      Math.abs(
        corr(
          y,
          truth.map((t) => t[1]),
        ),
      ),
    ).toBeGreaterThan(0.98);
    expect(out.explainedVariance[0]).toBeGreaterThan(0.8);
    expect(out.explainedVariance[0] + out.explainedVariance[1]).toBeGreaterThan(0.999);
    // Centred: mean ≈ 0 on both axes.
    expect(Math.abs(x.reduce((s, t) => s + t, 0) / n)).toBeLessThan(1e-4);
  });

  it('is deterministic and fixes the sign of each axis (skewed towards +)', async () => {
    const random = rng(3);
    const data = Float32Array.from({ length: 50 * 4 }, () => random() ** 3);
    const a = await pca(data, 4);
    const b = await pca(Float32Array.from(data), 4);
    expect(Array.from(a.coordinates)).toEqual(Array.from(b.coordinates));
    for (let c = 0; c < 2; c++) {
      let cubes = 0;
      for (let r = 0; r < 50; r++) cubes += a.coordinates[r * 2 + c] ** 3;
      expect(cubes).toBeGreaterThanOrEqual(0);
    }
  });

  it('normalises rows by default: vectors that differ only in length land together', async () => {
    const data = new Float32Array([1, 0, 0, 10, 0, 0, 0, 1, 0, 0, 5, 0, 0, 0, 1, 0, 0, 2]);
    const out = await pca(data, 3);
    const point = (r: number) => [out.coordinates[r * 2], out.coordinates[r * 2 + 1]];
    expect(point(0)[0]).toBeCloseTo(point(1)[0], 6);
    expect(point(2)[1]).toBeCloseTo(point(3)[1], 6);
  });

  it('handles no rows and zero rows, and rejects bad shapes', async () => {
    expect((await pca(new Float32Array(0), 3)).coordinates).toHaveLength(0);
    const zeros = await pca(new Float32Array(12), 3);
    expect(Array.from(zeros.coordinates).every((x) => x === 0)).toBe(true);
    expect(zeros.explainedVariance).toEqual([0, 0]);
    await expect(pca(new Float32Array(5), 2)).rejects.toThrow(/not a whole number of rows/);
    await expect(pca(new Float32Array(4), 2, { components: 3 })).rejects.toThrow(/components must be in 1..2/);
  });

  it('estimates the axes from a sample of rows, and yields while it works', async () => {
    const random = rng(11);
    const dim = 5;
    const n = 3_000;
    const data = new Float32Array(n * dim);
    for (let r = 0; r < n; r++) {
      const a = random() - 0.5;
      for (let d = 0; d < dim; d++)
        data[r * dim + d] = (d === 0 ? 8 * a : d === 1 ? -8 * a : 0) + (random() - 0.5) * 0.5;
    }
    let pauses = 0;
    const sampled = await pca(data, dim, { normalize: false, covarianceRows: 600, pause: async () => void pauses++ });
    const full = await pca(data, dim, { normalize: false, covarianceRows: n });
    expect(pauses).toBeGreaterThan(0);
    for (let r = 0; r < n; r += 97) expect(sampled.coordinates[r * 2]).toBeCloseTo(full.coordinates[r * 2], 1);
  });
});
