import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { activeNativeGemm, initBackend } from '../engine/backend.js';
import type { NativeGemm } from '../engine/native-gemm.js';
import { useNativeMatMul } from '../engine/wasm-kernels.js';
import { evaluateRanking } from '../eval/metrics.js';
import { Adam } from './adam.js';
import type { EpochReport } from './autoencoder.js';
import { MultDAE, MULT_DAE_DEFAULTS } from './mult-dae.js';
import { MultVAE, MULT_VAE_DEFAULTS } from './mult-vae.js';
import {
  buildSpec,
  initialWeights,
  inputItemsOf,
  lossAndGradients,
  rowsOf,
  sampledRows,
  type NetSpec,
} from './multinomial-net.js';
import { LogUniformProposal, sampleCandidates } from './sampled-softmax.js';
import { GradientWorkers } from './multinomial-workers.js';
import { sparseRowsFromCsr, type SparseRows } from './sparse-input.js';

beforeAll(async () => {
  await initBackend();
});

/**
 * Toy implicit feedback: `numItems` items in 3 groups; each user likes ~8 items of one group
 * plus one random item.
 */
function toyData(seed: number, users: number, numItems = 36): CsrMatrix {
  const rng = new Random(seed);
  const group = Math.floor(numItems / 3);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const g = rng.int(3);
    for (let i = 0; i < group; i++) {
      if (rng.uniform() < 0.65) {
        rows.push(u);
        cols.push(g * group + i);
      }
    }
    rows.push(u);
    cols.push(rng.int(numItems));
  }
  return csrFromTriples(users, numItems, rows, cols);
}

/** Splits each row's items alternately into fold-in and held-out. */
function foldInHeldOut(m: CsrMatrix): { foldIn: CsrMatrix; heldOut: CsrMatrix } {
  const a: [number[], number[]] = [[], []];
  const b: [number[], number[]] = [[], []];
  for (let r = 0; r < m.numRows; r++) {
    for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) {
      const t = (p - m.indptr[r]) % 3 === 2 ? b : a;
      t[0].push(r);
      t[1].push(m.indices[p]);
    }
  }
  return {
    foldIn: csrFromTriples(m.numRows, m.numCols, a[0], a[1]),
    heldOut: csrFromTriples(m.numRows, m.numCols, b[0], b[1]),
  };
}

const TINY = { hiddenUnits: [16], latentDim: 4, batchSize: 25, learningRate: 1e-2, seed: 7 };

type Model = MultVAE | MultDAE;
interface Kind {
  name: string;
  fit: (train: CsrMatrix, h: Record<string, unknown>, o?: Parameters<typeof MultVAE.fit>[3]) => Promise<Model>;
  fromBytes: (bytes: Uint8Array) => Model;
  kind: 'vae' | 'dae';
  defaults: Record<string, unknown>;
}
const KINDS: Kind[] = [
  {
    name: 'MultVAE',
    kind: 'vae',
    fit: (t, h, o) => MultVAE.fit(tf, t, h, o),
    fromBytes: (b) => MultVAE.fromBytes(tf, b),
    defaults: { ...MULT_VAE_DEFAULTS },
  },
  {
    name: 'MultDAE',
    kind: 'dae',
    fit: (t, h, o) => MultDAE.fit(tf, t, h, o),
    fromBytes: (b) => MultDAE.fromBytes(tf, b),
    defaults: { ...MULT_DAE_DEFAULTS, weightDecay: 0.01 / 25 },
  },
];

describe.each(KINDS)('$name', ({ name, kind, fit, fromBytes, defaults }) => {
  const train = toyData(1, 100);

  it('has the shapes of [I → 16 → 4 → 16 → I] and fills defaults', async () => {
    const m = await fit(train, { ...TINY, epochs: 1 });
    const h = csrSelectRows(train, [0, 1, 2]);
    expect(m.kind).toBe(kind);
    expect(m.numItems).toBe(36);
    expect(m.latentDim).toBe(4);
    expect(m.itemVectorDim).toBe(17);
    expect(m.encode(h).length).toBe(3 * 4);
    expect(m.reconstruct(h).length).toBe(3 * 36);
    expect(m.userQueries(h).length).toBe(3 * 17);
    expect(m.itemVectors().length).toBe(36 * 17);
    expect(m.hyperparameters).toEqual({ ...defaults, ...TINY, epochs: 1 });
    expect(m.summary).toMatchObject({ epochs: 1, steps: 4, keptEpoch: 1 });
    m.dispose();
    expect(() => m.encode(h)).toThrow(/disposed/);
  });

  it('lowers the loss within a few epochs on a seeded toy dataset', async () => {
    const losses: number[] = [];
    const m = await fit(train, { ...TINY, epochs: 8 }, { onEpoch: (e) => losses.push(e.loss) });
    m.dispose();
    expect(losses).toHaveLength(8);
    expect(losses[7]).toBeLessThan(0.9 * losses[0]);
  });

  it('is deterministic for a seed', async () => {
    const a = await fit(train, { ...TINY, epochs: 2 });
    const b = await fit(train, { ...TINY, epochs: 2 });
    const c = await fit(train, { ...TINY, epochs: 2, seed: 8 });
    expect(Buffer.from(a.toBytes()).equals(Buffer.from(b.toBytes()))).toBe(true);
    expect(Buffer.from(a.toBytes()).equals(Buffer.from(c.toBytes()))).toBe(false);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('round-trips through toBytes/fromBytes with identical outputs', async () => {
    const m = await fit(train, { ...TINY, epochs: 2 });
    const copy = fromBytes(m.toBytes());
    expect(copy.kind).toBe(kind);
    expect(copy.hyperparameters).toEqual(m.hyperparameters);
    expect(copy.summary).toEqual(m.summary);
    expect(Array.from(copy.reconstruct(train))).toEqual(Array.from(m.reconstruct(train)));
    expect(Array.from(copy.encode(train))).toEqual(Array.from(m.encode(train)));
    expect(Array.from(copy.itemVectors())).toEqual(Array.from(m.itemVectors()));
    expect(() => fromBytes(new Uint8Array(16))).toThrow(/not a Mult-VAE\/DAE model/);
    const other = kind === 'vae' ? MultDAE : MultVAE;
    expect(() => other.fromBytes(tf, m.toBytes())).toThrow(new RegExp(`hold a '${kind}' model`));
    [m, copy].forEach((x) => x.dispose());
  });

  it('keeps the tensor count flat across epochs and after encode/reconstruct, and frees on dispose', async () => {
    const before = tf.memory().numTensors;
    const during: number[] = [];
    const m = await fit(
      train,
      { ...TINY, epochs: 3 },
      { validation: foldInHeldOut(toyData(2, 30)), onEpoch: () => during.push(tf.memory().numTensors) },
    );
    expect(during).toEqual([before, before, before]);
    const held = tf.memory().numTensors;
    m.encode(train);
    m.reconstruct(train);
    m.userQueries(train);
    m.itemVectors();
    m.toBytes();
    expect(tf.memory().numTensors).toBe(held);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('scores = userQueries · itemVectorsᵀ', async () => {
    const m = await fit(train, { ...TINY, epochs: 2 });
    const h = csrSelectRows(train, [3, 4, 5, 6]);
    const q = m.userQueries(h);
    const v = m.itemVectors();
    const s = m.reconstruct(h);
    const d = m.itemVectorDim;
    for (let r = 0; r < 4; r++) {
      expect(q[r * d + d - 1]).toBe(1);
      for (let i = 0; i < 36; i++) {
        let dot = 0;
        for (let k = 0; k < d; k++) dot += q[r * d + k] * v[i * d + k];
        expect(Math.abs(dot - s[r * 36 + i])).toBeLessThan(1e-4);
      }
    }
    m.dispose();
  });

  it('encode is deterministic and independent of the other rows', async () => {
    const m = await fit(train, { ...TINY, epochs: 1 });
    const all = m.encode(train);
    const one = m.encode(csrSelectRows(train, [10]));
    for (let k = 0; k < 4; k++) expect(one[k]).toBeCloseTo(all[10 * 4 + k], 5);
    expect(Array.from(m.encode(train))).toEqual(Array.from(all));
    m.dispose();
  });

  it('keeps the best validation epoch', async () => {
    const validation = foldInHeldOut(toyData(3, 40));
    const reports: EpochReport[] = [];
    const m = await fit(
      train,
      { ...TINY, epochs: 6, learningRate: 0.05 },
      { validation, onEpoch: (e) => reports.push(e) },
    );
    const scores = reports.map((r) => r.validation!);
    const best = scores.indexOf(Math.max(...scores));
    expect(m.summary!.keptEpoch).toBe(best + 1);
    expect(m.summary!.validationNdcg).toBe(scores[best]);
    const ndcg = evaluateRanking((h) => m.reconstruct(h), validation.foldIn, validation.heldOut, { ks: [100] })[
      'ndcg@100'
    ];
    expect(ndcg).toBeCloseTo(scores[best], 10);
    m.dispose();
  });

  it('stops after the current step when shouldStop turns true', async () => {
    let calls = 0;
    const m = await fit(train, { ...TINY, epochs: 5 }, { shouldStop: () => ++calls > 3 });
    expect(m.summary).toMatchObject({ epochs: 1, steps: 3 });
    m.dispose();
  });

  it('rejects bad hyperparameters and inputs', async () => {
    await expect(fit(train, { dropout: 1 })).rejects.toThrow(new RegExp(`${name}: dropout`));
    await expect(fit(train, { hiddenUnits: [0] })).rejects.toThrow(/hiddenUnits/);
    const m = await fit(train, { ...TINY, epochs: 1 });
    expect(() => m.reconstruct(toyData(1, 3, 30))).toThrow(/30 columns, the model 36 items/);
    m.dispose();
  });
});

it('threads > 1 without the compiled worker entry (TypeScript sources) trains on one thread and says so', async () => {
  const train = toyData(1, 60);
  const notes: string[] = [];
  const a = await MultVAE.fit(tf, train, { ...TINY, epochs: 1 }, { threads: 2, log: (m) => notes.push(m) });
  const b = await MultVAE.fit(tf, train, { ...TINY, epochs: 1 });
  expect(notes).toEqual([
    expect.stringMatching(/MultVAE.fit: worker entry multinomial-worker.js not found.*one thread/),
  ]);
  expect(Buffer.from(a.toBytes()).equals(Buffer.from(b.toBytes()))).toBe(true);
  await expect(MultVAE.fit(tf, train, { ...TINY, epochs: 1 }, { threads: 0 })).rejects.toThrow(
    /threads must be a positive integer/,
  );
  [a, b].forEach((m) => m.dispose());
});

it('MultDAE: weight decay defaults to 0.01 / batchSize (reference.py)', async () => {
  const train = toyData(1, 20);
  const m = await MultDAE.fit(tf, train, { hiddenUnits: [], latentDim: 3, batchSize: 10, epochs: 1 });
  expect(m.hyperparameters.weightDecay).toBeCloseTo(0.001, 12);
  expect(m.hyperparameters.hiddenUnits).toEqual([]);
  expect(m.itemVectorDim).toBe(4);
  const z = m.encode(train);
  for (const v of z) expect(Math.abs(v)).toBeLessThanOrEqual(1); // tanh bottleneck
  m.dispose();
});

it("inputItemVectors: the first layer's row of each item (Mult-DAE [I-3-I]: atanh(encode({i})) − atanh(encode(∅)))", async () => {
  const train = toyData(1, 20);
  const m = await MultDAE.fit(tf, train, { hiddenUnits: [], latentDim: 3, batchSize: 10, epochs: 2 });
  const { vectors, dim } = m.inputItemVectors();
  expect(dim).toBe(3);
  expect(vectors.length).toBe(train.numCols * 3);
  const n = train.numCols;
  const oneItem = csrFromTriples(
    n,
    n,
    Array.from({ length: n }, (_, i) => i),
    Array.from({ length: n }, (_, i) => i),
  );
  const empty = csrFromTriples(1, n, [], []);
  const h = m.encode(oneItem);
  const h0 = m.encode(empty);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < 3; d++) expect(Math.atanh(h[i * 3 + d]) - Math.atanh(h0[d])).toBeCloseTo(vectors[i * 3 + d], 3);
  }
  const vae = await MultVAE.fit(tf, train, { hiddenUnits: [5], latentDim: 2, batchSize: 10, epochs: 1 });
  expect(vae.inputItemVectors().dim).toBe(5);
  expect(vae.inputItemVectors().vectors.length).toBe(n * 5);
  vae.dispose();
  m.dispose();
});

/** Dense input matrix of sparse rows. */
function dense(x: SparseRows): tf.Tensor2D {
  const out = new Float32Array(x.numRows * x.numCols);
  for (let k = 0; k < x.rowIds.length; k++) out[x.rowIds[k] * x.numCols + x.colIds[k]] += x.values[k];
  return tf.tensor2d(out, [x.numRows, x.numCols]);
}

/**
 * The reference loss (scripts/reference/reference.py) in plain tfjs ops on dense inputs; params = [W₀, b₀, W₁, b₁, …].
 */
function referenceLoss(
  spec: NetSpec,
  params: tf.Tensor[],
  xIn: tf.Tensor2D,
  xRaw: tf.Tensor2D,
  eps: tf.Tensor2D | undefined,
  beta: number,
): tf.Scalar {
  let h: tf.Tensor2D = xIn;
  let kl: tf.Scalar = tf.scalar(0);
  spec.layers.forEach((layer, l) => {
    if (spec.variational && l === spec.encoderDepth) {
      const mu = tf.slice(h, [0, 0], [-1, spec.latentDim]);
      const logvar = tf.slice(h, [0, spec.latentDim], [-1, spec.latentDim]);
      kl = tf.mean(tf.sum(tf.mul(0.5, tf.sub(tf.add(tf.add(tf.neg(logvar), tf.exp(logvar)), tf.square(mu)), 1)), 1));
      h = tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logvar)), eps!));
    }
    h = tf.add(tf.matMul(h, params[2 * l] as tf.Tensor2D), params[2 * l + 1]);
    if (layer.tanh) h = tf.tanh(h);
  });
  const nll = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(h), xRaw), 1)));
  return tf.add(nll, tf.mul(beta, kl));
}

/** lossAndGradients vs tfjs autograd of the reference loss, on one dropped-out mini-batch. */
function checkGradients(kind: 'vae' | 'dae', hiddenUnits: number[], beta: number): void {
  const train = toyData(4, 30, 24);
  const spec = buildSpec(kind, 24, hiddenUnits, 3);
  const weights = initialWeights(spec, new Random(5));
  const rowIds = Int32Array.from([4, 0, 9, 17, 3, 22]);
  const drop = new Random(6);
  const x = sparseRowsFromCsr(train, rowIds, 0.5, () => drop.uniform());
  const eps = kind === 'vae' ? new Random(7).fillNormal(new Float32Array(rowIds.length * 3)) : undefined;
  const before = tf.memory().numTensors;
  const { loss, grads } = lossAndGradients(tf, spec, weights, x, { csr: train, rowIds }, eps, beta);
  expect(tf.memory().numTensors).toBe(before);

  const [refLoss, refGrads] = tf.tidy(() => {
    const params: tf.Tensor[] = [];
    spec.layers.forEach((layer, l) => {
      if (l < spec.layers.length - 1) {
        params.push(tf.tensor2d(weights[l].subarray(0, layer.inDim * layer.outDim), [layer.inDim, layer.outDim]));
        params.push(tf.tensor1d(weights[l].subarray(layer.inDim * layer.outDim)));
      } else {
        const v = tf.tensor2d(weights[l], [layer.outDim, layer.inDim + 1]);
        params.push(tf.transpose(tf.slice(v, [0, 0], [layer.outDim, layer.inDim])));
        params.push(tf.reshape(tf.slice(v, [0, layer.inDim], [layer.outDim, 1]), [layer.outDim]));
      }
    });
    const xIn = dense(x);
    const xRaw = dense(sparseRowsFromCsr(train, rowIds)); // normalised; scale back to counts below
    const counts = tf.cast(tf.greater(xRaw, 0), 'float32') as tf.Tensor2D;
    const epsT = eps ? tf.tensor2d(eps, [rowIds.length, 3]) : undefined;
    const f = (...ps: tf.Tensor[]) => referenceLoss(spec, ps, xIn, counts, epsT, beta);
    const { value, grads: g } = tf.valueAndGrads(f)(params);
    return [value.dataSync()[0], g.map((t) => Array.from(t.dataSync()))];
  }) as unknown as [number, number[][]];
  expect(loss).toBeCloseTo(refLoss, 3);
  spec.layers.forEach((layer, l) => {
    let expected = [...refGrads[2 * l], ...refGrads[2 * l + 1]];
    if (l === spec.layers.length - 1) {
      // The output layer's layout is the item vectors: [numItems × (inDim + 1)] = [Wᵀ | b].
      const [gw, gb] = [refGrads[2 * l], refGrads[2 * l + 1]];
      expected = [];
      for (let i = 0; i < layer.outDim; i++) {
        for (let k = 0; k < layer.inDim; k++) expected.push(gw[k * layer.outDim + i]);
        expected.push(gb[i]);
      }
    }
    expect(grads[l].length).toBe(expected.length);
    let scale = 0;
    for (const v of expected) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < expected.length; i++) {
      if (!(Math.abs(grads[l][i] - expected[i]) <= 1e-4 * scale + 1e-7))
        throw new Error(`layer ${l} index ${i}: ${grads[l][i]} vs ${expected[i]}`);
    }
  });
}

describe.each([
  // Every product of the step on onnxruntime's GEMM, with transposed operands in place.
  { matMuls: 'native GEMM', route: () => useNativeMatMul(nativeGemm(), 1) },
  // The wasm backend alone: transposes explicit, plain products.
  { matMuls: 'plain wasm', route: () => useNativeMatMul(undefined) },
])('hand-written gradients equal tfjs autograd of the reference loss ($matMuls)', ({ route }) => {
  beforeAll(route);
  afterAll(() => useNativeMatMul(nativeGemm())); // as initBackend left it
  it('Mult-VAE [I-8-3-8-I], with the KL term (β = 0.3)', () => checkGradients('vae', [8], 0.3));
  it('Mult-VAE without a hidden layer (the sparse layer outputs μ, log σ²)', () => checkGradients('vae', [], 0.2));
  it('Mult-VAE with two hidden layers', () => checkGradients('vae', [10, 6], 0.1));
  it('Mult-DAE [I-3-I]', () => checkGradients('dae', [], 0));
  it('Mult-DAE [I-8-3-8-I]', () => checkGradients('dae', [8], 0));
});

/** The native GEMM initBackend loaded (onnxruntime-node is installed wherever the tests run). */
function nativeGemm(): NativeGemm {
  const gemm = activeNativeGemm();
  if (!gemm) throw new Error('initBackend did not load the native GEMM (is onnxruntime-node installed?)');
  return gemm;
}

/*
 * The data-parallel path needs the compiled worker entry (worker threads cannot load the
 * TypeScript sources jest runs): it is tested against dist/, which `npm test` builds first (pretest).
 */
const BUILT_WORKER = new URL('../../../dist/src/core/models/multinomial-worker.js', import.meta.url);
if (!existsSync(fileURLToPath(BUILT_WORKER)))
  throw new Error(`${fileURLToPath(BUILT_WORKER)} is missing: run \`npm run build\` (npm test does)`);

describe('GradientWorkers (compiled worker entry in dist/)', () => {
  it('gives the single-threaded steps up to summation order', async () => {
    const train = toyData(8, 40, 24);
    const spec = buildSpec('vae', 24, [8], 3);
    const start = initialWeights(spec, new Random(5));
    const adamConfig = { learningRate: 0.01, weightDecay: 0.001 };
    const pool = await GradientWorkers.start(tf, 2, spec, train, start, adamConfig, BUILT_WORKER);
    expect(pool).toBeDefined();
    const serial = start.map((w) => w.slice());
    const adam = new Adam(
      serial.map((w) => w.length),
      adamConfig,
    );
    try {
      const rng = new Random(9);
      for (let step = 1; step <= 3; step++) {
        const rowIds = Int32Array.from({ length: 15 }, () => rng.int(40));
        const x = sparseRowsFromCsr(train, rowIds, 0.5, () => rng.uniform());
        const eps = rng.fillNormal(new Float32Array(15 * 3));
        const parallelLoss = await pool!.step(x, rowIds, eps, 0.2, step);
        const { loss, grads } = lossAndGradients(tf, spec, serial, x, { csr: train, rowIds }, eps, 0.2);
        adam.nextStep();
        grads.forEach((g, l) => adam.update(l, serial[l], g));
        expect(parallelLoss).toBeCloseTo(loss, 4);
        serial.forEach((w, l) => {
          for (let i = 0; i < w.length; i++) expect(Math.abs(pool!.weights[l][i] - w[i])).toBeLessThan(1e-5);
        });
      }
    } finally {
      await pool!.close();
    }
  });

  it('gives the single-threaded row-sparse steps of the sampled softmax up to summation order', async () => {
    const train = toyData(8, 40, 24);
    const spec = buildSpec('dae', 24, [], 3);
    const start = initialWeights(spec, new Random(5));
    const adamConfig = { learningRate: 0.01 };
    const pool = await GradientWorkers.start(tf, 2, spec, train, start, adamConfig, BUILT_WORKER);
    const serial = start.map((w) => w.slice());
    const adam = new Adam(
      serial.map((w) => w.length),
      adamConfig,
    );
    const proposal = LogUniformProposal.fromTraining(train);
    try {
      const rng = new Random(9);
      for (let step = 1; step <= 3; step++) {
        const rowIds = Int32Array.from({ length: 6 }, () => rng.int(40));
        const x = sparseRowsFromCsr(train, rowIds, 0.5, () => rng.uniform());
        const sampled = { candidates: sampleCandidates(proposal, train, rowIds, 4, rng), inputItems: inputItemsOf(x) };
        const parallelLoss = await pool!.step(x, rowIds, undefined, 0, step, sampled);
        const { loss, grads } = lossAndGradients(tf, spec, serial, x, { csr: train, rowIds }, undefined, 0, sampled);
        const rows = sampledRows(spec, sampled);
        adam.nextStep();
        grads.forEach((g, l) => adam.updateRows(l, serial[l], g, rows[l]!, serial[l].length / rowsOf(spec, l)));
        expect(parallelLoss).toBeCloseTo(loss, 4);
        serial.forEach((w, l) => {
          for (let i = 0; i < w.length; i++) expect(Math.abs(pool!.weights[l][i] - w[i])).toBeLessThan(1e-5);
        });
      }
    } finally {
      await pool!.close();
    }
  });
});
