import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { strongGeneralizationSplit, type StrongSplit } from '../data/split.js';
import { initBackend } from '../engine/backend.js';
import { evaluateRanking } from '../eval/metrics.js';
import {
  AutoSearchStopped,
  autoSelect,
  blendEvaluator,
  blendNdcgs,
  simplexSearch,
  type AutoSelectOptions,
} from './auto-select.js';
import { Ease } from './ease.js';
import { Ensemble } from './ensemble.js';
import { MultDAE } from './mult-dae.js';
import { MultVAE } from './mult-vae.js';

/** 400 users in 4 taste groups of 30 items (120 items), popular items first within a group. */
function tasteData(seed: number): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 400; u++) {
    const g = rng.int(4);
    for (let k = 0; k < 12; k++) {
      rows.push(u);
      cols.push(g * 30 + Math.floor(30 * rng.uniform() ** 2));
    }
  }
  return csrFromTriples(400, 120, rows, cols);
}

let split: StrongSplit;
beforeAll(async () => {
  await initBackend();
  split = strongGeneralizationSplit(tasteData(7), { heldOutUsers: 60, seed: 1 });
});

const options = (o: Partial<AutoSelectOptions> = {}): AutoSelectOptions => ({
  budgetSeconds: 600,
  maxEaseItems: 10_000,
  epochs: 8,
  seed: 3,
  autoencoderSettings: { latentDim: 16, hiddenUnits: [] },
  fitEase: async (lambda) => Ease.fit(split.train, { lambda }),
  ...o,
});

describe('autoSelect', () => {
  it('tries EASE over λ, both autoencoders and the blend, reports each, and keeps the best on validation', async () => {
    const seen: string[] = [];
    const progress: number[] = [];
    const result = await autoSelect(
      tf,
      split.train,
      split.validation,
      options({ onCandidate: (c) => seen.push(c.name), onProgress: (f) => progress.push(f) }),
    );
    const names = result.candidates.map((c) => c.name);
    expect(names.filter((n) => n.startsWith('EASE λ=') && !n.includes('+')).length).toBeGreaterThanOrEqual(3);
    // EDLAE: dropout p tried at the best plain λ, reported in the settings.
    const edlae = result.candidates.filter((c) => c.kind === 'ease' && (c.settings.dropout as number) > 0);
    expect(edlae.map((c) => c.settings.dropout)).toEqual(expect.arrayContaining([0.25, 0.5]));
    expect(edlae.every((c) => / p=0\.\d+$/.test(c.name) && c.status === 'TRAINED')).toBe(true);
    expect(names).toEqual(expect.arrayContaining(['Mult-DAE', 'Mult-VAE']));
    expect(names.some((n) => n.includes(' + Mult-'))).toBe(true);
    // The three-way blend of EASE and both autoencoders, weights on the simplex.
    const threeWay = result.candidates.find((c) => /Mult-DAE \+ Mult-VAE|Mult-VAE \+ Mult-DAE/.test(c.name))!;
    expect(threeWay).toMatchObject({ kind: 'ensemble', status: 'TRAINED' });
    const weights = Object.values(threeWay.settings.weights as Record<string, number>);
    expect(weights).toHaveLength(3);
    expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(seen).toEqual(names);
    const chosen = result.candidates.filter((c) => c.chosen);
    expect(chosen).toHaveLength(1);
    const best = Math.max(...result.candidates.map((c) => c.ndcg ?? -1));
    expect(chosen[0].ndcg).toBe(best);
    expect(result.kind).toBe(chosen[0].kind);
    // The stored metrics are the kept model's own, recomputed on the validation users.
    const model = result.model;
    const score = (h: CsrMatrix) =>
      model instanceof Ensemble || model instanceof Ease ? model.score(h) : model.reconstruct(h);
    expect(result.metrics['ndcg@100']).toBeCloseTo(
      evaluateRanking(score, split.validation.foldIn, split.validation.heldOut)['ndcg@100'],
      10,
    );
    expect(result.metrics['ndcg@100']).toBeCloseTo(best, 10);
    // Progress only moves forward and ends at 1.
    for (let k = 1; k < progress.length; k++) expect(progress[k]).toBeGreaterThanOrEqual(progress[k - 1]);
    expect(progress.at(-1)).toBe(1);
    if (!(model instanceof Ease)) model.dispose();
  }, 120_000);

  it('leaves EASE out above the catalog limit and says why', async () => {
    const result = await autoSelect(
      tf,
      split.train,
      split.validation,
      options({ maxEaseItems: 50, autoencoders: ['dae'] }),
    );
    const ease = result.candidates.find((c) => c.kind === 'ease')!;
    expect(ease).toMatchObject({ status: 'SKIPPED', ndcg: null });
    expect(ease.reason).toMatch(/120 items.*limit of 50/);
    expect(result.kind).toBe('dae');
    expect(result.candidates.some((c) => c.kind === 'ensemble')).toBe(false);
    (result.model as MultDAE).dispose();
  }, 60_000);

  it('skips what would start after the time budget and reports it', async () => {
    let t = 0;
    // Every EASE fit "takes" 50 s of a 100 s budget: two fit, the rest are skipped.
    const result = await autoSelect(
      tf,
      split.train,
      split.validation,
      options({
        budgetSeconds: 100,
        now: () => t,
        fitEase: async (lambda) => {
          t += 50;
          return Ease.fit(split.train, { lambda });
        },
      }),
    );
    const statuses = result.candidates.map((c) => `${c.name}:${c.status}`);
    expect(statuses.filter((s) => s.startsWith('EASE') && s.endsWith('TRAINED'))).toHaveLength(2);
    expect(statuses.some((s) => s.startsWith('EASE') && s.endsWith('SKIPPED'))).toBe(true);
    expect(statuses).toEqual(expect.arrayContaining(['Mult-DAE:SKIPPED', 'Mult-VAE:SKIPPED']));
    expect(result.candidates.filter((c) => c.status === 'SKIPPED').every((c) => c.reason === 'time budget')).toBe(true);
    expect(result.kind).toBe('ease');
  }, 60_000);

  it('stops with AutoSearchStopped when asked to, and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    let epochs = 0;
    await expect(
      autoSelect(
        tf,
        split.train,
        split.validation,
        options({ onEpoch: () => epochs++, shouldStop: () => epochs >= 2 }),
      ),
    ).rejects.toBeInstanceOf(AutoSearchStopped);
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  it('simplexSearch: three members, weights on the 0.05 simplex at least as good as the 0.1 grid, served as evaluated', async () => {
    const ease = Ease.fit(split.train, { lambda: 20 });
    const dae = await MultDAE.fit(tf, split.train, { latentDim: 8, epochs: 5, batchSize: 40, seed: 1 });
    const vae = await MultVAE.fit(tf, split.train, {
      latentDim: 8,
      hiddenUnits: [],
      epochs: 5,
      batchSize: 40,
      seed: 2,
    });
    const members = [ease, dae, vae];
    const found = simplexSearch(members, split.validation);
    expect(found.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    for (const w of found.weights) {
      expect(w).toBeGreaterThanOrEqual(0);
      expect(Math.abs(w * 20 - Math.round(w * 20))).toBeLessThan(1e-9);
    }
    expect(found.evaluated).toBeGreaterThanOrEqual(66);
    const evaluate = blendEvaluator(members, split.validation);
    for (const vertex of [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
      [0.5, 0.5, 0],
      [0.4, 0.3, 0.3],
    ])
      expect(found.ndcg).toBeGreaterThanOrEqual(evaluate(vertex));
    expect(evaluate(found.weights)).toBeCloseTo(found.ndcg, 10);
    // The served ensemble ranks exactly as the search scored it.
    const served = new Ensemble(members.map((model, k) => ({ model, weight: found.weights[k] })));
    const ndcg = evaluateRanking((h) => served.score(h), split.validation.foldIn, split.validation.heldOut, {
      ks: [100],
    })['ndcg@100'];
    expect(ndcg).toBeCloseTo(found.ndcg, 6);
    dae.dispose();
    vae.dispose();
  }, 60_000);

  it('blendNdcgs: α = 1 is EASE alone and α = 0 the autoencoder alone', async () => {
    const ease = Ease.fit(split.train, { lambda: 20 });
    const dae = await MultDAE.fit(tf, split.train, { latentDim: 8, epochs: 5, batchSize: 40, seed: 1 });
    const [aeOnly, , easeOnly] = blendNdcgs(ease, dae, [0, 0.5, 1], split.validation);
    const ndcg = (f: (h: CsrMatrix) => Float32Array) =>
      evaluateRanking(f, split.validation.foldIn, split.validation.heldOut, { ks: [100] })['ndcg@100'];
    expect(easeOnly).toBeCloseTo(
      ndcg((h) => ease.score(h)),
      10,
    );
    expect(aeOnly).toBeCloseTo(
      ndcg((h) => dae.reconstruct(h)),
      10,
    );
    dae.dispose();
  }, 60_000);
});
