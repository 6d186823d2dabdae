import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { excludeSet } from '../index/top-k.js';
import { MultVAE } from './mult-vae.js';
import { fitLatentToHistories, LatentGaussianFit, sampleUsers, type LatentDecoder } from './synthetic-users.js';

beforeAll(async () => {
  await initBackend();
});

const PER_GROUP = 20;
const NUM_ITEMS = 2 * PER_GROUP;
const groupOf = (col: number) => (col < PER_GROUP ? 0 : 1);

/** 200 users; each likes ~8 items of one of two groups (popular ones more often). */
function twoGroups(seed: number, users = 200): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const g = u % 2;
    const picked = new Set<number>();
    while (picked.size < 8) picked.add(Math.floor(PER_GROUP * rng.uniform() ** 1.5));
    for (const i of picked) {
      rows.push(u);
      cols.push(g * PER_GROUP + i);
    }
  }
  return csrFromTriples(users, NUM_ITEMS, rows, cols);
}

/** Share of a history's items in its majority group. */
function purity(items: Int32Array): number {
  let g1 = 0;
  for (const c of items) g1 += groupOf(c);
  return Math.max(g1, items.length - g1) / items.length;
}

/** A decoder that returns the same logits for every latent code (no tensors). */
function fixedDecoder(logits: number[], latentDim = 2): LatentDecoder {
  return {
    numItems: logits.length,
    latentDim,
    decode: (_z, rows) => {
      const out = new Float32Array(rows * logits.length);
      for (let r = 0; r < rows; r++) out.set(logits, r * logits.length);
      return out;
    },
    dispose: () => undefined,
  };
}

describe('MultVAE.sampleUsers', () => {
  let vae: MultVAE;

  beforeAll(async () => {
    // A KL weight that reaches 1 quickly, so the posterior stays close to the prior the sampler draws from.
    vae = await MultVAE.fit(tf, twoGroups(1), {
      hiddenUnits: [16],
      latentDim: 4,
      epochs: 40,
      batchSize: 25,
      learningRate: 1e-2,
      annealCap: 1,
      totalAnnealSteps: 100,
      seed: 3,
    });
  }, 60_000);
  afterAll(() => vae.dispose());

  it('draws itemsPerUser distinct items per user, with their probabilities', () => {
    const users = vae.sampleUsers(50, 6, 11, { probabilities: true });
    expect(users).toHaveLength(50);
    for (const u of users) {
      expect(u.items).toBeInstanceOf(Int32Array);
      expect(u.items).toHaveLength(6);
      expect(new Set(u.items).size).toBe(6);
      for (const c of u.items) expect(c >= 0 && c < NUM_ITEMS).toBe(true);
      expect(u.probabilities).toHaveLength(6);
      for (const p of u.probabilities!) expect(p > 0 && p <= 1).toBe(true);
    }
    expect(vae.sampleUsers(3, 2, 1)[0].probabilities).toBeUndefined();
    expect(vae.sampleUsers(0, 2, 1)).toEqual([]);
  });

  it('concentrates each synthetic history within one taste group, and covers both groups', () => {
    const users = vae.sampleUsers(300, 6, 5);
    const meanPurity = users.reduce((s, u) => s + purity(u.items), 0) / users.length;
    // 6 items drawn uniformly from the two groups: expected purity ≈ 0.66 (this model: ≈ 0.93).
    expect(meanPurity).toBeGreaterThan(0.85);
    const majority1 = users.filter((u) => Array.from(u.items).filter((c) => groupOf(c) === 1).length > 3).length;
    expect(majority1 / users.length).toBeGreaterThan(0.2);
    expect(majority1 / users.length).toBeLessThan(0.8);
  });

  it('a lower temperature concentrates further; a higher one flattens', () => {
    const mean = (t: number) => {
      const users = vae.sampleUsers(300, 6, 5, { temperature: t });
      return users.reduce((s, u) => s + purity(u.items), 0) / users.length;
    };
    expect(mean(0.5)).toBeGreaterThanOrEqual(mean(1));
    expect(mean(1)).toBeGreaterThan(mean(20));
    expect(mean(20)).toBeLessThan(0.85);
  });

  it('is deterministic for a seed, whatever the batch size; the first users of a larger sample are a smaller sample', () => {
    const a = vae.sampleUsers(40, 5, 123);
    expect(vae.sampleUsers(40, 5, 123)).toEqual(a);
    expect(vae.sampleUsers(40, 5, 123, { batchSize: 7 })).toEqual(a);
    expect(vae.sampleUsers(10, 5, 123)).toEqual(a.slice(0, 10));
    expect(vae.sampleUsers(40, 5, 124)).not.toEqual(a);
  });

  it('never draws excluded columns and renormalises over the others', () => {
    const exclude = excludeSet(Array.from({ length: 30 }, (_, i) => i)); // 10 columns left
    const users = vae.sampleUsers(20, 10, 9, { exclude, probabilities: true });
    for (const u of users) {
      expect([...u.items].sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => 30 + i));
      const total = u.probabilities!.reduce((s, p) => s + p, 0);
      expect(total).toBeCloseTo(1, 4);
    }
    expect(() => vae.sampleUsers(1, 11, 9, { exclude })).toThrow('between 1 and 10');
  });

  it('rejects bad arguments: itemsPerUser > numItems, 0, a negative count, a bad temperature or seed', () => {
    expect(() => vae.sampleUsers(1, NUM_ITEMS + 1, 1)).toThrow(
      `itemsPerUser must be an integer between 1 and ${NUM_ITEMS}`,
    );
    expect(() => vae.sampleUsers(1, 0, 1)).toThrow('itemsPerUser');
    expect(() => vae.sampleUsers(1, 1.5, 1)).toThrow('itemsPerUser');
    expect(() => vae.sampleUsers(-1, 1, 1)).toThrow('count');
    expect(() => vae.sampleUsers(1, 1, 1, { temperature: 0 })).toThrow('temperature');
    expect(() => vae.sampleUsers(1, 1, Number.NaN)).toThrow('seed');
    expect(vae.sampleUsers(2, NUM_ITEMS, 1).every((u) => new Set(u.items).size === NUM_ITEMS)).toBe(true);
  });

  it("decodes like the model: z = a user's encoder mean at a low temperature draws the reconstruction's top items", () => {
    const data = twoGroups(1);
    for (const u of [0, 1, 7]) {
      const row = csrSelectRows(data, [u]);
      const mean = vae.encode(row);
      const logits = vae.reconstruct(row);
      const top = Array.from(logits.keys())
        .sort((a, b) => logits[b] - logits[a])
        .slice(0, 5);
      const [sample] = vae.sampleUsers(1, 5, u, {
        latent: { mean, std: new Float32Array(mean.length) },
        temperature: 1e-4,
      });
      expect(Array.from(sample.items)).toEqual(top);
    }
  });

  it('leaks no tensors, also when it throws', () => {
    const before = tf.memory().numTensors;
    vae.sampleUsers(600, 5, 1, { probabilities: true });
    expect(() => vae.sampleUsers(1, NUM_ITEMS + 1, 1)).toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a disposed model', async () => {
    const m = MultVAE.fromBytes(tf, vae.toBytes());
    m.dispose();
    expect(() => m.sampleUsers(1, 1, 1)).toThrow('disposed');
  });
});

describe('sampleUsers (Gumbel-top-k)', () => {
  const logits = [0, 1, 2, -1];
  const probs = (() => {
    const e = logits.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / s);
  })();

  it('draws the first item from softmax(logits)', () => {
    const n = 20_000;
    const counts = [0, 0, 0, 0];
    for (const u of sampleUsers(fixedDecoder(logits), n, 1, 1)) counts[u.items[0]]++;
    counts.forEach((c, i) => expect(Math.abs(c / n - probs[i])).toBeLessThan(0.015));
  });

  it('draws without replacement: the second item follows the softmax renormalised without the first', () => {
    const n = 20_000;
    let first2 = 0;
    let then0 = 0;
    for (const u of sampleUsers(fixedDecoder(logits), n, 2, 2)) {
      if (u.items[0] === 2) {
        first2++;
        if (u.items[1] === 1) then0++;
      }
    }
    // P(second = 1 | first = 2) = p1 / (1 − p2)
    expect(Math.abs(then0 / first2 - probs[1] / (1 - probs[2]))).toBeLessThan(0.02);
  });

  it('divides the logits by the temperature', () => {
    const n = 20_000;
    let top = 0;
    for (const u of sampleUsers(fixedDecoder(logits), n, 1, 3, { temperature: 0.5 })) if (u.items[0] === 2) top++;
    const e = logits.map((x) => Math.exp(2 * x));
    expect(Math.abs(top / n - e[2] / e.reduce((a, b) => a + b, 0))).toBeLessThan(0.015);
    const [u] = sampleUsers(fixedDecoder(logits), 1, 4, 3, { temperature: 0.5, probabilities: true });
    u.items.forEach((c, k) => expect(u.probabilities![k]).toBeCloseTo(e[c] / e.reduce((a, b) => a + b, 0), 5));
  });
});

describe('latent distribution', () => {
  /** A decoder that records the latent codes it is given (and returns flat logits). */
  function recording(latentDim: number): LatentDecoder & { seen: number[] } {
    const seen: number[] = [];
    return {
      numItems: 3,
      latentDim,
      seen,
      decode: (z, rows) => {
        seen.push(...z);
        return new Float32Array(rows * 3);
      },
      dispose: () => undefined,
    };
  }

  it('draws z from N(0, I) by default and from N(mean, diag std²) when given', () => {
    const prior = recording(2);
    sampleUsers(prior, 5000, 1, 1);
    const fit = new LatentGaussianFit(2);
    fit.add(prior.seen);
    const p = fit.result();
    for (let j = 0; j < 2; j++) {
      expect(Math.abs(p.mean[j])).toBeLessThan(0.05);
      expect(Math.abs(p.std[j] - 1)).toBeLessThan(0.05);
    }
    const shifted = recording(2);
    sampleUsers(shifted, 5000, 1, 1, { latent: { mean: [3, -1], std: [0.5, 2] } });
    const g = new LatentGaussianFit(2);
    g.add(shifted.seen);
    const r = g.result();
    expect(r.mean[0]).toBeCloseTo(3, 1);
    expect(r.mean[1]).toBeCloseTo(-1, 1);
    expect(r.std[0]).toBeCloseTo(0.5, 1);
    expect(r.std[1]).toBeCloseTo(2, 1);
    // same standard normal draws, transformed: z' = mean + std · z
    expect(shifted.seen[0]).toBeCloseTo(3 + 0.5 * prior.seen[0], 5);
  });

  it('rejects a latent distribution of the wrong size or with a negative std', () => {
    expect(() => sampleUsers(recording(2), 1, 1, 1, { latent: { mean: [0], std: [1] } })).toThrow('2 values');
    expect(() => sampleUsers(recording(2), 1, 1, 1, { latent: { mean: [0, 0], std: [1, -1] } })).toThrow('≥ 0');
  });

  it('LatentGaussianFit: per-dimension mean and population std, batch by batch', () => {
    const fit = new LatentGaussianFit(2);
    fit.add([1, 10, 2, 10]);
    fit.add([3, 10]);
    expect(fit.count).toBe(3);
    const { mean, std } = fit.result();
    expect(Array.from(mean)).toEqual([2, 10]);
    expect(std[0]).toBeCloseTo(Math.sqrt(2 / 3), 6);
    expect(std[1]).toBe(0);
    expect(() => new LatentGaussianFit(2).result()).toThrow('no vectors');
    expect(() => fit.add([1, 2, 3])).toThrow('rows of 2');
  });

  it('fitLatentToHistories: the fit of every row encoded in batches; no fit without rows', () => {
    // A stand-in encoder: a row's vector is (its item count, its first item).
    const encode = (h: CsrMatrix) =>
      Float32Array.from(
        Array.from({ length: h.numRows }, (_, r) => [h.indptr[r + 1] - h.indptr[r], h.indices[h.indptr[r]]]).flat(),
      );
    const histories = csrFromTriples(3, 4, [0, 0, 1, 2, 2, 2], [0, 1, 2, 1, 2, 3]);
    const { count, fit } = fitLatentToHistories(encode, 2, histories, 2);
    const direct = new LatentGaussianFit(2);
    direct.add([2, 0, 1, 2, 3, 1]);
    expect(count).toBe(3);
    expect(fit).toEqual(direct.result());
    expect(fitLatentToHistories(encode, 2, csrFromTriples(0, 4, [], []))).toEqual({ count: 0, fit: null });
  });
});
