import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import {
  Ease,
  EaseFitCancelled,
  easeMemoryBytes,
  easeWeightsFloat64,
  invertSpdInPlace,
  maxEaseItems,
  planEase,
  Popularity,
  type EasePhase,
} from './ease.js';
import { runSolverAsync, runSolverSync, sweepInverse, sweepInverseFlops, TfGemmExecutor } from './ease-solver.js';
import { EaseWorkers, sharedFloat32 } from './ease-workers.js';

beforeAll(async () => {
  await initBackend();
});

/** Tiles that divide none of the sizes tested, so every edge case of the tiling is exercised. */
const TILING = { blockSize: 64, rowTile: 48, colTile: 80 };

/** A random SPD matrix GᵀG + λI from 0/1 "histories" (as EASE sees), float64 row-major. */
function randomSpd(n: number, seed: number, lambda = 1): Float64Array {
  const rng = new Random(seed);
  const rows = Math.max(4, 2 * n);
  const x = Array.from({ length: rows }, () => Array.from({ length: n }, () => (rng.uniform() < 0.15 ? 1 : 0)));
  const a = new Float64Array(n * n);
  for (const r of x) for (let i = 0; i < n; i++) if (r[i]) for (let j = 0; j < n; j++) a[i * n + j] += r[j];
  for (let i = 0; i < n; i++) a[i * n + i] += lambda;
  return a;
}

/** Seeded histories with skewed item popularity. */
function histories(users: number, items: number, perUser: number, seed: number): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const seen = new Set<number>();
    const h = 1 + rng.int(2 * perUser);
    for (let t = 0; t < h; t++) seen.add(Math.floor(items * rng.uniform() ** 2));
    for (const c of seen) {
      rows.push(u);
      cols.push(c);
    }
  }
  return csrFromTriples(users, items, rows, cols);
}

const referenceWeights = easeWeightsFloat64;

function relativeError(x: ArrayLike<number>, ref: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (x[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/**
 * Users whose top-k (seen items excluded) under weights `w` differs from the one under `ref`:
 * position by position, the reference scores of the two lists must be equal (to 1e-9 of the
 * largest), so that only the order of exactly tied items (identical item columns) may differ.
 */
function rankingMismatches(train: CsrMatrix, w: ArrayLike<number>, ref: ArrayLike<number>, k: number): number[] {
  const n = train.numCols;
  const bad: number[] = [];
  for (let u = 0; u < train.numRows; u++) {
    const s = new Float64Array(n);
    const t = new Float64Array(n);
    const seen = new Set<number>();
    for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) {
      const i = train.indices[p];
      seen.add(i);
      for (let j = 0; j < n; j++) {
        s[j] += ref[i * n + j];
        t[j] += w[i * n + j];
      }
    }
    const items = Array.from(s.keys()).filter((j) => !seen.has(j));
    const byRef = [...items].sort((a, b) => s[b] - s[a]).slice(0, k);
    const byW = [...items].sort((a, b) => t[b] - t[a]).slice(0, k);
    const scale = Math.max(1e-12, ...byRef.map((j) => Math.abs(s[j])));
    if (byRef.some((j, r) => Math.abs(s[j] - s[byW[r]]) > 1e-9 * scale)) bad.push(u);
  }
  return bad;
}

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

describe('sweepInverse (blocked, float32)', () => {
  it.each([1, 7, 130, 300])(
    'equals the reference Gauss-Jordan for n = %i (block 64), with tfjs and with JavaScript products',
    async (n) => {
      const a = randomSpd(n, n);
      const ref = Float64Array.from(a);
      invertSpdInPlace(ref, n);
      // Only the lower triangle is read: poison the upper one.
      const input = Float32Array.from(a);
      for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) input[i * n + j] = NaN;

      const viaTf = Float32Array.from(input);
      let done = 0;
      const total = sweepInverseFlops(n, TILING);
      await runSolverAsync(sweepInverse(viaTf, n, TILING), new TfGemmExecutor(tf), {
        total,
        onProgress: (d) => (done = d),
        progressMs: 0,
      });
      expect(done).toBe(total);
      const viaJs = Float32Array.from(input);
      runSolverSync(sweepInverse(viaJs, n, TILING));

      let scale = 0;
      for (const v of ref) scale = Math.max(scale, Math.abs(v));
      for (const got of [viaTf, viaJs]) {
        let worst = 0;
        for (let i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
        expect(worst / scale).toBeLessThan(1e-5);
        let asymmetric = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) if (got[i * n + j] !== got[j * n + i]) asymmetric++;
        expect(asymmetric).toBe(0);
      }
    },
  );

  it('rejects a matrix that is not positive definite', () => {
    expect(() => runSolverSync(sweepInverse(Float32Array.from([1, 2, 2, 1]), 2, TILING))).toThrow(
      /not positive definite/,
    );
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
    expect(back.dropout).toBe(0);
    expect(Array.from(back.weights)).toEqual(Array.from(ease.weights));
    const edlae = Ease.fromBytes(Ease.fit(train, { lambda: 0.5, dropout: 0.25 }).toBytes());
    expect(edlae.dropout).toBe(0.25);
    // Versions stored before EDLAE: the 12-byte "EAS1" header.
    const v1 = new Uint8Array(12 + ease.weights.byteLength);
    new DataView(v1.buffer).setUint32(0, 0x31534145, true);
    new DataView(v1.buffer).setUint32(4, ease.numItems, true);
    new DataView(v1.buffer).setFloat32(8, 0.5, true);
    v1.set(new Uint8Array(ease.weights.buffer), 12);
    const old = Ease.fromBytes(v1);
    expect([old.lambda, old.dropout]).toEqual([0.5, 0]);
    expect(Array.from(old.weights)).toEqual(Array.from(ease.weights));
    expect(() => Ease.fromBytes(new Uint8Array(5))).toThrow(/not an EASE model/);
  });

  it('matches the closed form on a tiny case', () => {
    // One item pair seen together by one user: G = [[1,1],[1,1]] + λI, λ = 1.
    const ease = Ease.fit(csrFromTriples(1, 2, [0, 0], [0, 1]), { lambda: 1 });
    // P = (1/3)[[2,−1],[−1,2]]; B[0][1] = −P01/P11 = 0.5.
    expect(ease.weights[1]).toBeCloseTo(0.5, 6);
    expect(ease.weights[2]).toBeCloseTo(0.5, 6);
  });

  it('rejects λ ≤ 0', () => {
    expect(() => Ease.fit(train, { lambda: 0 })).toThrow(/λ must be positive/);
  });

  describe.each([
    ['primal', 400, 130],
    ['dual', 40, 300],
  ] as const)('fitAsync, %s form', (method, users, items) => {
    const data = histories(users, items, 8, users + items);
    const lambda = 3;
    const ref = referenceWeights(data, lambda);

    it('matches the float64 reference: small relative error, zero diagonal, identical top-10 rankings (up to exact ties)', async () => {
      expect(planEase(data, { method: 'auto' }).method).toBe(method);
      const tensors = tf.memory().numTensors;
      const ease = await Ease.fitAsync(tf, data, { lambda, tiling: TILING });
      expect(tf.memory().numTensors).toBe(tensors);
      expect(ease.numItems).toBe(items);
      expect(relativeError(ease.weights, ref)).toBeLessThan(1e-5);
      for (let i = 0; i < items; i++) expect(ease.weights[i * items + i]).toBe(0);
      expect(rankingMismatches(data, ease.weights, ref, 10)).toEqual([]);
      // The other form and the synchronous JavaScript fit agree too.
      const other = await Ease.fitAsync(tf, data, {
        lambda,
        tiling: TILING,
        method: method === 'primal' ? 'dual' : 'primal',
      });
      expect(relativeError(other.weights, ref)).toBeLessThan(1e-5);
      const sync = Ease.fit(data, { lambda, tiling: TILING });
      expect(relativeError(sync.weights, ref)).toBeLessThan(1e-5);
      expect(rankingMismatches(data, sync.weights, ref, 10)).toEqual([]);
    });

    it('EDLAE (dropout p): Λ = λI + p/(1 − p)·diag(XᵀX) in both forms, matching the float64 reference', async () => {
      const dropout = 0.4;
      const edlaeRef = referenceWeights(data, lambda, dropout);
      // A different model from plain EASE, not a rescaling of it.
      expect(relativeError(edlaeRef, ref)).toBeGreaterThan(1e-2);
      for (const form of ['primal', 'dual'] as const) {
        const ease = await Ease.fitAsync(tf, data, { lambda, dropout, tiling: TILING, method: form });
        expect(ease.dropout).toBe(dropout);
        expect(relativeError(ease.weights, edlaeRef)).toBeLessThan(1e-5);
        for (let i = 0; i < items; i++) expect(ease.weights[i * items + i]).toBe(0);
        expect(rankingMismatches(data, ease.weights, edlaeRef, 10)).toEqual([]);
      }
      expect(() => Ease.fit(data, { lambda, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    });

    it('reports monotone progress through the phases that ends at the total', async () => {
      const calls: Array<[number, number, EasePhase]> = [];
      let planned = 0;
      await Ease.fitAsync(tf, data, {
        lambda,
        tiling: TILING,
        onPlan: (p) => (planned = p.totalFlops),
        onProgress: (d, t, p) => calls.push([d, t, p]),
      });
      expect(calls.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < calls.length; i++) expect(calls[i][0]).toBeGreaterThanOrEqual(calls[i - 1][0]);
      expect(calls.every(([, t]) => t === planned)).toBe(true);
      expect(calls[calls.length - 1][0]).toBe(planned);
      const phases = calls.map(([, , p]) => p).filter((p, i, all) => i === 0 || all[i - 1] !== p);
      expect(phases).toEqual(['gram', 'inverse', 'weights']);
    });
  });

  it('stops at the first shouldStop that returns true, leaving no tensors', async () => {
    const data = histories(600, 300, 8, 5);
    const tensors = tf.memory().numTensors;
    let checks = 0;
    let stoppedAt = -1;
    let lastDone = 0;
    const total = planEase(data, { tiling: TILING }).totalFlops;
    const fit = Ease.fitAsync(tf, data, {
      lambda: 2,
      tiling: TILING,
      onProgress: (d) => (lastDone = d),
      shouldStop: () => {
        checks++;
        if (checks === 40) stoppedAt = checks;
        return checks >= 40;
      },
    });
    await expect(fit).rejects.toBeInstanceOf(EaseFitCancelled);
    expect(stoppedAt).toBe(40);
    expect(checks).toBe(40); // nothing ran after the check that said stop
    expect(lastDone).toBeLessThan(total);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('checks shouldStop between products (many times per fit) and honours an aborted signal', async () => {
    const data = histories(600, 300, 8, 6);
    let checks = 0;
    await Ease.fitAsync(tf, data, { lambda: 2, tiling: TILING, shouldStop: () => (checks++, false) });
    // 5 blocks of 64 × (7 row chunks of 48 for V + 19 lower tiles) products, plus the JavaScript steps.
    expect(checks).toBeGreaterThan(5 * 26);
    const controller = new AbortController();
    controller.abort();
    await expect(Ease.fitAsync(tf, data, { lambda: 2, signal: controller.signal })).rejects.toBeInstanceOf(
      EaseFitCancelled,
    );
  });

  it('handles one item, items nobody has and users with no items', async () => {
    const one = await Ease.fitAsync(tf, csrFromTriples(3, 1, [0, 2], [0, 0]), { lambda: 1 });
    expect(Array.from(one.weights)).toEqual([0]);
    const sparse = csrFromTriples(5, 6, [0, 0, 2, 2, 4], [1, 3, 1, 3, 3]); // users 1, 3 empty; items 0, 2, 4, 5 unseen
    for (const method of ['primal', 'dual'] as const) {
      const ease = await Ease.fitAsync(tf, sparse, { lambda: 1, method });
      expect(relativeError(ease.weights, referenceWeights(sparse, 1))).toBeLessThan(1e-6);
    }
  });
});

describe('easeMemoryBytes / maxEaseItems', () => {
  it('is dominated by one n × n float32 matrix and grows with n', () => {
    let previous = 0;
    for (const n of [10, 100, 1000, 5000, 10000, 20000]) {
      const bytes = easeMemoryBytes(n, { method: 'primal' });
      expect(bytes).toBeGreaterThan(4 * n * n);
      expect(bytes).toBeGreaterThan(previous);
      previous = bytes;
    }
    expect(easeMemoryBytes(10000, { method: 'primal' }) / (4 * 1e8)).toBeLessThan(1.15);
    // Without a user count: the worst case over users, at least the primal's.
    expect(easeMemoryBytes(10000)).toBeGreaterThanOrEqual(easeMemoryBytes(10000, { method: 'primal' }));
    expect(easeMemoryBytes(10000, { numUsers: 500 })).toBeLessThanOrEqual(easeMemoryBytes(10000));
    // Each extra thread holds its own product buffers.
    expect(easeMemoryBytes(10000, { threads: 2 })).toBeGreaterThan(easeMemoryBytes(10000, { threads: 1 }));
  });

  it('inverts easeMemoryBytes', () => {
    for (const n of [1, 500, 9742, 30000]) {
      expect(maxEaseItems(easeMemoryBytes(n))).toBe(n);
      expect(maxEaseItems(easeMemoryBytes(n) - 1)).toBe(n - 1);
    }
    expect(maxEaseItems(0)).toBe(0);
    expect(maxEaseItems(4 * 2 ** 30)).toBeGreaterThan(30000);
  });
});

/*
 * The worker-thread path needs the compiled worker entry (worker threads cannot load the
 * TypeScript sources jest runs): it is tested against dist/, which `npm test` builds first.
 */
const BUILT_WORKER = new URL('../../../dist/src/core/models/ease-worker.js', import.meta.url);
if (!existsSync(fileURLToPath(BUILT_WORKER)))
  throw new Error(`${fileURLToPath(BUILT_WORKER)} is missing: run \`npm run build\` (npm test does)`);

describe('Ease.fitAsync on two threads (compiled worker entry in dist/)', () => {
  it('shares the products of a sweep with a worker thread, with the single-threaded result', async () => {
    const n = 300;
    const a = Float32Array.from(randomSpd(n, 3));
    const shared = sharedFloat32(n * n);
    shared.set(a);
    const pool = await EaseWorkers.start(tf, 1, BUILT_WORKER);
    expect(pool).toBeDefined();
    try {
      await runSolverAsync(sweepInverse(shared, n, TILING, sharedFloat32), new TfGemmExecutor(tf), {
        total: sweepInverseFlops(n, TILING),
        workers: pool,
      });
      expect(Number(pool!.flops[0])).toBeGreaterThan(0); // the worker did part of the products
    } finally {
      await pool!.close();
    }
    const alone = Float32Array.from(a);
    await runSolverAsync(sweepInverse(alone, n, TILING), new TfGemmExecutor(tf), {
      total: sweepInverseFlops(n, TILING),
    });
    expect(Array.from(shared)).toEqual(Array.from(alone)); // each product is computed whole by one thread
  });

  it.each(['primal', 'dual'] as const)('gives exactly the single-threaded weights (%s)', async (method) => {
    const data = histories(method === 'primal' ? 500 : 40, 200, 8, 11);
    const tensors = tf.memory().numTensors;
    const two = await Ease.fitAsync(tf, data, {
      lambda: 2,
      method,
      tiling: TILING,
      threads: 2,
      workerUrl: BUILT_WORKER,
    });
    const one = await Ease.fitAsync(tf, data, { lambda: 2, method, tiling: TILING });
    expect(Array.from(two.weights)).toEqual(Array.from(one.weights));
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('stops both threads on shouldStop', async () => {
    const data = histories(600, 300, 8, 12);
    let checks = 0;
    const fit = Ease.fitAsync(tf, data, {
      lambda: 2,
      tiling: TILING,
      threads: 2,
      workerUrl: BUILT_WORKER,
      shouldStop: () => ++checks > 30,
    });
    await expect(fit).rejects.toBeInstanceOf(EaseFitCancelled);
  });
});

describe('Popularity', () => {
  it('scores every user with the training counts', () => {
    const pop = Popularity.fit(csrFromTriples(3, 3, [0, 1, 2, 2], [2, 2, 2, 0]));
    expect(Array.from(pop.score(csrFromTriples(2, 3, [], [])))).toEqual([1, 0, 3, 1, 0, 3]);
  });
});
