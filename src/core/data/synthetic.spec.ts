import { csrFromTriples } from './csr.js';
import { generateSynthetic, syntheticRating } from './synthetic.js';
import { Random } from './random.js';
import { Ease } from '../models/ease.js';
import { recallAtK } from '../eval/metrics.js';

describe('generateSynthetic', () => {
  const options = { users: 600, items: 300, interactions: 15_000, seed: 3, categories: 6 };
  const data = generateSynthetic(options);

  it('writes exactly the requested interactions, distinct per user, at least minPerUser each', () => {
    expect(data.userItems.length).toBe(15_000);
    expect(data.userStart[600]).toBe(15_000);
    for (let u = 0; u < 600; u++) {
      const items = data.userItems.subarray(data.userStart[u], data.userStart[u + 1]);
      expect(items.length).toBeGreaterThanOrEqual(5);
      expect(new Set(items).size).toBe(items.length);
      for (const i of items) expect(i >= 0 && i < 300).toBe(true);
    }
    expect(Math.max(...data.itemCategory) + 1).toBe(6);
  });

  it('has power-law popularity: the top 10 % of items hold far more than 10 % of the interactions', () => {
    const count = new Int32Array(300);
    for (const i of data.userItems) count[i]++;
    const sorted = Array.from(count).sort((a, b) => b - a);
    const top = sorted.slice(0, 30).reduce((a, b) => a + b, 0);
    expect(top / 15_000).toBeGreaterThan(0.3);
    // And the most popular items by weight are the most interacted with.
    const heaviest = Array.from(data.itemWeight.keys()).sort((a, b) => data.itemWeight[b] - data.itemWeight[a]).slice(0, 10);
    const median = sorted[150];
    for (const i of heaviest) expect(count[i]).toBeGreaterThan(median);
  });

  it('gives users tastes: most of a user\'s items come from their favourite clusters', () => {
    // Against what draws by popularity alone would give: the favourite clusters' share of the weight.
    const clusterWeight = new Float64Array(Math.max(...data.itemCluster) + 1);
    data.itemCluster.forEach((k, i) => (clusterWeight[k] += data.itemWeight[i]));
    const total = clusterWeight.reduce((a, b) => a + b, 0);
    let inFavourites = 0;
    let byPopularity = 0;
    for (let u = 0; u < 600; u++) {
      const fav = new Set(data.userClusters[u]);
      const n = data.userStart[u + 1] - data.userStart[u];
      byPopularity += (n * [...fav].reduce((a, k) => a + clusterWeight[k], 0)) / total;
      for (let k = data.userStart[u]; k < data.userStart[u + 1]; k++) if (fav.has(data.itemCluster[data.userItems[k]])) inFavourites++;
    }
    // 1 − noise (0.2) at most, less for the heaviest users, who exhaust their clusters.
    expect(inFavourites / 15_000).toBeGreaterThan(0.65);
    expect(byPopularity / 15_000).toBeLessThan(0.45);
  });

  it('is learnable: EASE beats popularity on held-out interactions', () => {
    // The last fifth of each user's draws held out.
    const train: [number, number][] = [];
    const test: [number, number][] = [];
    for (let u = 0; u < 600; u++) {
      const lo = data.userStart[u];
      const hi = data.userStart[u + 1];
      const cut = hi - Math.max(1, Math.floor((hi - lo) / 5));
      for (let k = lo; k < hi; k++) (k < cut ? train : test).push([u, data.userItems[k]]);
    }
    const csr = (pairs: [number, number][]) => csrFromTriples(600, 300, pairs.map((p) => p[0]), pairs.map((p) => p[1]));
    const trainM = csr(train);
    const testM = csr(test);
    const ease = Ease.fit(trainM, { lambda: 50 });
    const easeScores = ease.score(trainM);
    const popularity = new Float32Array(300);
    for (const i of trainM.indices) popularity[i]++;
    const popScores = new Float32Array(600 * 300);
    for (let u = 0; u < 600; u++) popScores.set(popularity, u * 300);
    const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const easeRecall = mean(recallAtK(easeScores, trainM, testM, 20));
    const popRecall = mean(recallAtK(popScores, trainM, testM, 20));
    expect(easeRecall).toBeGreaterThan(1.3 * popRecall);
  });

  it('is deterministic for a seed', () => {
    expect(generateSynthetic(options).userItems).toEqual(data.userItems);
    expect(generateSynthetic({ ...options, seed: 4 }).userItems).not.toEqual(data.userItems);
  });

  it('refuses sizes that cannot be met', () => {
    expect(() => generateSynthetic({ users: 10, items: 10, interactions: 101 })).toThrow(/do not fit/);
    expect(() => generateSynthetic({ users: 100, items: 50, interactions: 400 })).toThrow(/min-per-user/);
    expect(() => generateSynthetic({ users: 0, items: 10, interactions: 1 })).toThrow(/users must be a positive integer/);
    expect(() => generateSynthetic({ users: 10, items: 10, interactions: 60, noise: 2 })).toThrow(/noise/);
  });

  it('fills a user who wants the whole catalog', () => {
    const full = generateSynthetic({ users: 3, items: 8, interactions: 24, minPerUser: 8 });
    for (let u = 0; u < 3; u++) expect(new Set(full.userItems.subarray(u * 8, u * 8 + 8)).size).toBe(8);
  });

  it('rates favourite-cluster items as positives (≥ 3.5), others anywhere in 1–5', () => {
    const rng = new Random(1);
    for (let k = 0; k < 200; k++) expect(syntheticRating(1, rng)).toBeGreaterThanOrEqual(3.5);
    const others = Array.from({ length: 500 }, () => syntheticRating(0.25, rng));
    expect(Math.min(...others)).toBe(1);
    expect(Math.max(...others)).toBe(5);
  });
});
