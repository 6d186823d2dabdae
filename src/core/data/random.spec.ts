import { Random } from './random.js';

describe('Random', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = new Random(42);
    const b = new Random(42);
    const c = new Random(43);
    const xs = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('uniform() is in [0, 1) with mean ≈ 0.5, and uniform(lo, hi) is scaled', () => {
    const r = new Random(1);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      const u = r.uniform();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      s += u;
    }
    expect(s / 20000).toBeCloseTo(0.5, 1);
    const v = r.uniform(-3, -1);
    expect(v).toBeGreaterThanOrEqual(-3);
    expect(v).toBeLessThan(-1);
  });

  it('normal() has mean ≈ 0 and std ≈ 1; normal(m, s) shifts and scales', () => {
    const r = new Random(7);
    const n = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      s += z;
      s2 += z * z;
    }
    expect(s / n).toBeCloseTo(0, 1);
    expect(Math.sqrt(s2 / n - (s / n) ** 2)).toBeCloseTo(1, 1);
    const out = r.fillNormal(new Float32Array(5000), 10, 0.5);
    const mean = out.reduce((p, x) => p + x, 0) / out.length;
    expect(mean).toBeCloseTo(10, 1);
  });

  it('int(n) is unbiased enough and in range', () => {
    const r = new Random(3);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(() => r.int(0)).toThrow();
  });

  it('shuffle() permutes in place; permutation(n) contains each index once', () => {
    const r = new Random(5);
    const a = [1, 2, 3, 4, 5, 6, 7, 8];
    r.shuffle(a);
    expect([...a].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const p = r.permutation(100);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(p)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
