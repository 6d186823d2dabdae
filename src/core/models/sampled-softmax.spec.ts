import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { generateSynthetic } from '../data/synthetic.js';
import { initBackend } from '../engine/backend.js';
import { recallAtK } from '../eval/metrics.js';
import { MultDAE } from './mult-dae.js';
import { MultVAE } from './mult-vae.js';
import { Adam } from './adam.js';
import { buildSpec, initialWeights, inputItemsOf, lossAndGradients, sampledRows } from './multinomial-net.js';
import {
  LogUniformProposal,
  SAMPLED_SOFTMAX_MIN_ITEMS,
  sampleCandidates,
  usesSampledSoftmax,
  type SoftmaxCandidates,
} from './sampled-softmax.js';
import { sparseRowsFromCsr } from './sparse-input.js';

beforeAll(async () => {
  await initBackend();
});

/** `users` users with 2–4 random items each among `numItems`, popularity skewed to low ids. */
function smallHistories(seed: number, users: number, numItems: number): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const k = 2 + rng.int(3);
    for (let j = 0; j < k; j++) {
      rows.push(u);
      cols.push(Math.floor(numItems * rng.uniform() ** 2));
    }
  }
  return csrFromTriples(users, numItems, rows, cols);
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

describe('usesSampledSoftmax', () => {
  it("samples from SAMPLED_SOFTMAX_MIN_ITEMS items on with 'auto', always with 'sampled', never with 'full'", () => {
    expect(usesSampledSoftmax(SAMPLED_SOFTMAX_MIN_ITEMS - 1)).toBe(false);
    expect(usesSampledSoftmax(SAMPLED_SOFTMAX_MIN_ITEMS)).toBe(true);
    expect(usesSampledSoftmax(10, { mode: 'sampled' })).toBe(true);
    expect(usesSampledSoftmax(10 * SAMPLED_SOFTMAX_MIN_ITEMS, { mode: 'full' })).toBe(false);
    expect(() => usesSampledSoftmax(10, { mode: 'some' as 'full' })).toThrow(/softmax mode/);
  });
});

describe('LogUniformProposal', () => {
  const popularity = [5, 50, 0, 7, 50, 1];
  const q = new LogUniformProposal(popularity);

  it('is a distribution that decreases with popularity rank (ties by id)', () => {
    expect(mean(q.probability) * 6).toBeCloseTo(1, 10);
    // ranks: item 1, 4, 3, 0, 5, 2
    const byRank = [1, 4, 3, 0, 5, 2].map((i) => q.probability[i]);
    for (let r = 1; r < 6; r++) expect(byRank[r]).toBeLessThan(byRank[r - 1]);
    expect(q.probability[1]).toBeCloseTo(Math.log(2) / Math.log(7), 12);
  });

  it('draws items with its probabilities', () => {
    const rng = new Random(1);
    const count = new Float64Array(6);
    const draws = 60_000;
    for (let k = 0; k < draws; k++) count[q.draw(rng.uniform())]++;
    for (let i = 0; i < 6; i++) expect(Math.abs(count[i] / draws - q.probability[i])).toBeLessThan(0.01);
  });
});

describe('sampleCandidates', () => {
  const numItems = 40;
  const train = smallHistories(2, 30, numItems);
  const proposal = LogUniformProposal.fromTraining(train);
  const rowIds = Int32Array.from([3, 7, 11]);

  it("holds every item of the batch's rows with weight 1, and sampled items with c / (m·q)", () => {
    const c = sampleCandidates(proposal, train, rowIds, 25, new Random(3));
    const batchItems = new Set<number>();
    for (const u of rowIds)
      for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) batchItems.add(train.indices[p]);
    const position = new Map(Array.from(c.items, (item, k) => [item, k]));
    for (const i of batchItems) expect(c.logWeights[position.get(i)!]).toBe(0);
    for (let k = 1; k < c.items.length; k++) expect(c.items[k]).toBeGreaterThan(c.items[k - 1]);
    // Σ over sampled items of c_j = m minus the draws that hit batch items.
    let drawn = 0;
    c.items.forEach((item, k) => {
      if (!batchItems.has(item)) drawn += Math.exp(c.logWeights[k]) * 25 * proposal.probability[item];
    });
    expect(drawn).toBeLessThanOrEqual(25 + 1e-3);
    expect(Math.abs(drawn - Math.round(drawn))).toBeLessThan(1e-3);
    expect(c.items.length).toBeGreaterThan(batchItems.size);
  });

  it('gives an unbiased estimate of the partition function Σ_i exp(z_i)', () => {
    const rng = new Random(4);
    const z = Array.from({ length: numItems }, () => 2 * rng.normal());
    const exact = z.reduce((s, v) => s + Math.exp(v), 0);
    const draws = 3000;
    let total = 0;
    for (let t = 0; t < draws; t++) {
      const c = sampleCandidates(proposal, train, rowIds, 8, rng);
      c.items.forEach((item, k) => (total += Math.exp(z[item] + c.logWeights[k])));
    }
    expect(Math.abs(total / draws / exact - 1)).toBeLessThan(0.03);
  });

  it('rejects a proposal of another catalog and a bad sample count', () => {
    expect(() => sampleCandidates(new LogUniformProposal([1, 2]), train, rowIds, 5, new Random(1))).toThrow(/columns/);
    expect(() => sampleCandidates(proposal, train, rowIds, 0, new Random(1))).toThrow(/samples/);
  });
});

describe('lossAndGradients with candidates', () => {
  const numItems = 40;
  const train = smallHistories(5, 40, numItems);
  const spec = buildSpec('vae', numItems, [8], 3);
  const weights = initialWeights(spec, new Random(6));
  const rowIds = Int32Array.from([1, 5, 9, 13]);
  const x = sparseRowsFromCsr(train, rowIds);
  const eps = new Random(7).fillNormal(new Float32Array(rowIds.length * 3));
  let full: ReturnType<typeof lossAndGradients>;
  beforeAll(() => {
    full = lossAndGradients(tf, spec, weights, x, { csr: train, rowIds }, eps, 0.2);
  });

  it('equals the full softmax when the candidates are the whole catalog', () => {
    const every = Int32Array.from({ length: numItems }, (_, i) => i);
    const all: SoftmaxCandidates = { items: every, logWeights: new Float32Array(numItems) };
    const before = tf.memory().numTensors;
    // Every row listed: the row-sparse layouts are the full ones.
    const s = lossAndGradients(tf, spec, weights, x, { csr: train, rowIds }, eps, 0.2, {
      candidates: all,
      inputItems: every,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.loss).toBeCloseTo(full.loss, 4);
    s.grads.forEach((g, l) => {
      expect(g.length).toBe(full.grads[l].length);
      for (let i = 0; i < g.length; i++) expect(Math.abs(g[i] - full.grads[l][i])).toBeLessThan(1e-5);
    });
  });

  it('averages to (nearly) the full gradient over draws, which is zero on the rows it does not list', () => {
    const proposal = LogUniformProposal.fromTraining(train);
    const rng = new Random(8);
    const sums = full.grads.map((g) => new Float64Array(g.length));
    const draws = 400;
    const inputItems = inputItemsOf(x);
    for (let t = 0; t < draws; t++) {
      const step = { candidates: sampleCandidates(proposal, train, rowIds, 6, rng), inputItems };
      const s = lossAndGradients(tf, spec, weights, x, { csr: train, rowIds }, eps, 0.2, step);
      const rows = sampledRows(spec, step);
      s.grads.forEach((g, l) => {
        const r = rows[l];
        const width = r ? g.length / r.length : 0;
        if (r) expect(Number.isInteger(width) && full.grads[l].length % width === 0).toBe(true);
        g.forEach((v, i) => (sums[l][r ? r[Math.floor(i / width)] * width + (i % width) : i] += v / draws));
      });
      // The full gradient is zero on the first layer's rows of items absent from x.
      if (t === 0) {
        const width = spec.layers[0].outDim;
        const listed = new Set(rows[0]);
        for (let i = 0; i < numItems; i++)
          if (!listed.has(i)) for (let k = 0; k < width; k++) expect(full.grads[0][i * width + k]).toBe(0);
      }
    }
    // The sampled loss is the log of an unbiased estimate: its gradient is consistent, not exactly
    // unbiased; with 6 draws per step the average still points where the full gradient does (cosine 0.99 here).
    sums.forEach((g, l) => expect(cosine(g, full.grads[l])).toBeGreaterThan(0.98));
  });

  it('rejects candidates that miss a target item', () => {
    const missing: SoftmaxCandidates = { items: Int32Array.from([0]), logWeights: new Float32Array(1) };
    const step = { candidates: missing, inputItems: inputItemsOf(x) };
    expect(() => lossAndGradients(tf, spec, weights, x, { csr: train, rowIds }, eps, 0.2, step)).toThrow(
      /not among the softmax candidates/,
    );
    const every = Int32Array.from({ length: numItems }, (_, i) => i);
    const all = { items: every, logWeights: new Float32Array(numItems) };
    const noInput = { candidates: all, inputItems: Int32Array.from([]) };
    expect(() => lossAndGradients(tf, spec, weights, x, { csr: train, rowIds }, eps, 0.2, noInput)).toThrow(
      /not among inputItems/,
    );
  });
});

describe('Adam.updateRows', () => {
  it('updates the listed rows as a full update would and leaves the others (values and moments) alone', () => {
    const rng = new Random(9);
    const params = rng.fillNormal(new Float32Array(5 * 3));
    const grad = rng.fillNormal(new Float32Array(5 * 3));
    const rows = Int32Array.from([1, 4]);
    const compact = new Float32Array(2 * 3);
    compact.set(grad.subarray(3, 6), 0);
    compact.set(grad.subarray(12, 15), 3);
    const dense = new Adam([15], { learningRate: 0.1 });
    const sparse = new Adam([15], { learningRate: 0.1 });
    const a = params.slice();
    const b = params.slice();
    for (let t = 0; t < 3; t++) {
      dense.nextStep();
      sparse.nextStep();
      dense.update(0, a, grad);
      sparse.updateRows(0, b, compact, rows, 3);
    }
    for (let i = 0; i < 15; i++) {
      const row = Math.floor(i / 3);
      if (row === 1 || row === 4) expect(b[i]).toBeCloseTo(a[i], 6);
      else expect(b[i]).toBe(params[i]);
    }
    expect(() => sparse.updateRows(0, b, compact, Int32Array.from([1]), 3)).toThrow(/gradient values/);
  });
});

describe('training with the sampled softmax', () => {
  // 900 users × 600 items with taste clusters; the last fifth of each user's draws held out.
  const users = 900;
  const items = 600;
  const data = generateSynthetic({ users, items, interactions: 27_000, seed: 11, categories: 6 });
  const trainPairs: [number[], number[]] = [[], []];
  const testPairs: [number[], number[]] = [[], []];
  for (let u = 0; u < users; u++) {
    const lo = data.userStart[u];
    const hi = data.userStart[u + 1];
    const cut = hi - Math.max(1, Math.floor((hi - lo) / 5));
    for (let k = lo; k < hi; k++) {
      const t = k < cut ? trainPairs : testPairs;
      t[0].push(u);
      t[1].push(data.userItems[k]);
    }
  }
  const train = csrFromTriples(users, items, trainPairs[0], trainPairs[1]);
  const test = csrFromTriples(users, items, testPairs[0], testPairs[1]);
  const popularity = new Float32Array(items);
  for (const i of train.indices) popularity[i]++;
  const popScores = new Float32Array(users * items);
  for (let u = 0; u < users; u++) popScores.set(popularity, u * items);
  const popRecall = mean(recallAtK(popScores, train, test, 20));
  const hyper = { hiddenUnits: [], latentDim: 32, batchSize: 50, epochs: 12, learningRate: 3e-3, seed: 3 };

  it('learns the synthetic tastes (Mult-DAE: recall@20 ≥ 1.3× popularity, near the full softmax)', async () => {
    const notes: string[] = [];
    const sampled = await MultDAE.fit(tf, train, hyper, {
      softmax: { mode: 'sampled', samples: 64 },
      log: (m) => notes.push(m),
    });
    const full = await MultDAE.fit(tf, train, hyper, { softmax: { mode: 'full' } });
    const sampledRecall = mean(recallAtK(sampled.score(train), train, test, 20));
    const fullRecall = mean(recallAtK(full.score(train), train, test, 20));
    expect(sampled.summary?.sampledSoftmax).toEqual({ samples: 64 });
    expect(full.summary?.sampledSoftmax).toBeUndefined();
    expect(notes.join('\n')).toMatch(/sampled softmax over 600 items/);
    expect(sampledRecall).toBeGreaterThan(1.3 * popRecall);
    expect(sampledRecall).toBeGreaterThan(0.9 * fullRecall);
    sampled.dispose();
    full.dispose();
  });

  it("Mult-VAE trains with it too, and 'auto' keeps the full softmax on a small catalog", async () => {
    const vaeHyper = { ...hyper, hiddenUnits: [32], latentDim: 16 };
    const sampled = await MultVAE.fit(tf, train, vaeHyper, { softmax: { mode: 'sampled', samples: 64 } });
    const auto = await MultVAE.fit(tf, train, { ...vaeHyper, epochs: 1 });
    expect(auto.summary?.sampledSoftmax).toBeUndefined();
    expect(mean(recallAtK(sampled.score(train), train, test, 20))).toBeGreaterThan(1.3 * popRecall);
    sampled.dispose();
    auto.dispose();
  });

  it('rejects a bad sample count', async () => {
    await expect(
      MultDAE.fit(tf, train, { ...hyper, epochs: 1 }, { softmax: { mode: 'sampled', samples: 0 } }),
    ).rejects.toThrow(/softmax.samples/);
  });
});
