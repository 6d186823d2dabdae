import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { mae, rmse } from '../eval/metrics.js';
import { AutoRec, autorecLossAndGrads, clipRating, type AutoRecParams } from './autorec.js';

/** A seeded toy ratings matrix: numUsers × numItems with low-rank structure, about `density` observed. */
function toyRatings(numUsers: number, numItems: number, density: number, seed: number, emptyItem?: number): CsrMatrix {
  const rng = new Random(seed);
  const uf = Array.from({ length: numUsers }, () => [rng.normal(), rng.normal()]);
  const itf = Array.from({ length: numItems }, () => [rng.normal(), rng.normal()]);
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (let u = 0; u < numUsers; u++) {
    for (let i = 0; i < numItems; i++) {
      if (i === emptyItem || rng.uniform() >= density) continue;
      const s = 3 + uf[u][0] * itf[i][0] + uf[u][1] * itf[i][1];
      rows.push(u);
      cols.push(i);
      vals.push(Math.min(5, Math.max(1, Math.round(s))));
    }
  }
  return csrFromTriples(numUsers, numItems, rows, cols, vals);
}

const small = { hidden: 8, epochs: 30, batchSize: 4, learningRate: 0.01, lambda: 0.1, seed: 3 };

function allPairs(numUsers: number, numItems: number): { users: Int32Array; items: Int32Array } {
  const users = new Int32Array(numUsers * numItems);
  const items = new Int32Array(numUsers * numItems);
  for (let u = 0; u < numUsers; u++) {
    for (let i = 0; i < numItems; i++) {
      users[u * numItems + i] = u;
      items[u * numItems + i] = i;
    }
  }
  return { users, items };
}

function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, k) => k);
}

beforeAll(async () => {
  await initBackend({ prefer: 'wasm' }); // registers wasm (for the matMulFast path below)
  await tf.setBackend('cpu'); // the pure-JS backend is quickest for these tiny models
  await tf.ready();
});

describe('autorecLossAndGrads', () => {
  const B = 3;
  const U = 4;
  const H = 2;
  const rng = new Random(11);
  const arr = (n: number, s = 0.5) => rng.fillUniform(new Float32Array(n), -s, s);
  const paramsData = { V: arr(U * H), mu: arr(H), W: arr(H * U), b: arr(U) };
  const x = Float32Array.from([5, 0, 3, 0, 0, 0, 0, 0, 1, 0, 0, 4]);
  const m = Float32Array.from([1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1]);

  function lossOf(data: typeof paramsData, xs: Float32Array, ms: Float32Array, lambda: number): number {
    return tf.tidy(() => {
      const params: AutoRecParams = {
        V: tf.tensor2d(data.V, [U, H]),
        mu: tf.tensor1d(data.mu),
        W: tf.tensor2d(data.W, [H, U]),
        b: tf.tensor1d(data.b),
      };
      return autorecLossAndGrads(
        tf,
        tf.tensor2d(xs, [B, U]),
        tf.tensor2d(ms, [B, U]),
        params,
        lambda,
      ).loss.dataSync()[0];
    });
  }

  /** The same objective computed in plain JS (float64). */
  function jsLoss(data: typeof paramsData, xs: Float32Array, ms: Float32Array, lambda: number): number {
    let loss = 0;
    for (let r = 0; r < B; r++) {
      const h = new Array<number>(H);
      for (let j = 0; j < H; j++) {
        let z = data.mu[j];
        for (let u = 0; u < U; u++) z += xs[r * U + u] * data.V[u * H + j];
        h[j] = 1 / (1 + Math.exp(-z));
      }
      for (let u = 0; u < U; u++) {
        let o = data.b[u];
        for (let j = 0; j < H; j++) o += h[j] * data.W[j * U + u];
        if (ms[r * U + u]) loss += (o - xs[r * U + u]) ** 2;
      }
    }
    const sq = (a: Float32Array) => a.reduce((s, v) => s + v * v, 0);
    return loss + (lambda / 2) * (sq(data.W) + sq(data.V));
  }

  it('sums squared errors over observed entries only, plus λ/2 (‖W‖² + ‖V‖²)', () => {
    expect(lossOf(paramsData, x, m, 0.7)).toBeCloseTo(jsLoss(paramsData, x, m, 0.7), 3);
    // No observed entry and λ = 0: zero loss whatever the reconstruction is.
    expect(
      lossOf(
        paramsData,
        x.map(() => 0),
        m.map(() => 0),
        0,
      ),
    ).toBe(0);
    // Unobserved outputs do not matter: a mask hiding all but one entry gives that entry's error only.
    const one = new Float32Array(B * U);
    one[2] = 1;
    expect(lossOf(paramsData, x, one, 0)).toBeCloseTo(jsLoss(paramsData, x, one, 0), 4);
  });

  it('gives zero decoder gradients for unobserved outputs', () => {
    const g = tf.tidy(() => {
      const params: AutoRecParams = {
        V: tf.tensor2d(paramsData.V, [U, H]),
        mu: tf.tensor1d(paramsData.mu),
        W: tf.tensor2d(paramsData.W, [H, U]),
        b: tf.tensor1d(paramsData.b),
      };
      const { grads } = autorecLossAndGrads(tf, tf.tensor2d(x, [B, U]), tf.tensor2d(m, [B, U]), params, 0);
      return { W: grads.W.arraySync() as number[][], b: grads.b.arraySync() as number[] };
    });
    // Column 1 (user 1) is unobserved in every row of the batch.
    expect(g.b[1]).toBe(0);
    expect(g.W.map((row) => row[1])).toEqual([0, 0]);
    expect(g.b[0]).not.toBe(0);
  });

  it.each(['cpu', 'wasm'])('matches finite differences of the loss on %s', async (backend) => {
    await tf.setBackend(backend);
    const lambda = 0.3;
    const grads = tf.tidy(() => {
      const params: AutoRecParams = {
        V: tf.tensor2d(paramsData.V, [U, H]),
        mu: tf.tensor1d(paramsData.mu),
        W: tf.tensor2d(paramsData.W, [H, U]),
        b: tf.tensor1d(paramsData.b),
      };
      const r = autorecLossAndGrads(tf, tf.tensor2d(x, [B, U]), tf.tensor2d(m, [B, U]), params, lambda).grads;
      return {
        V: r.V.dataSync().slice(),
        mu: r.mu.dataSync().slice(),
        W: r.W.dataSync().slice(),
        b: r.b.dataSync().slice(),
      };
    });
    const eps = 1e-3;
    for (const name of ['V', 'mu', 'W', 'b'] as const) {
      for (let k = 0; k < paramsData[name].length; k++) {
        const plus = { ...paramsData, [name]: paramsData[name].slice() };
        const minus = { ...paramsData, [name]: paramsData[name].slice() };
        plus[name][k] += eps;
        minus[name][k] -= eps;
        const numeric = (jsLoss(plus, x, m, lambda) - jsLoss(minus, x, m, lambda)) / (2 * eps);
        expect(grads[name][k]).toBeCloseTo(numeric, 2);
      }
    }
    await tf.setBackend('cpu');
  });
});

describe('AutoRec', () => {
  const ratings = toyRatings(12, 10, 0.6, 5, 9); // item 9 has no ratings
  const { users: allU, items: allI } = allPairs(12, 10);

  it('lowers the training loss on a seeded toy set and fits it better than the global mean', async () => {
    const losses: number[] = [];
    const model = await AutoRec.fit(tf, ratings, small, { onEpoch: (r) => losses.push(r.loss) });
    expect(losses).toHaveLength(small.epochs);
    expect(losses[losses.length - 1]).toBeLessThan(0.5 * losses[0]);
    const tu: number[] = [];
    const ti: number[] = [];
    for (let u = 0; u < 12; u++) {
      for (let p = ratings.indptr[u]; p < ratings.indptr[u + 1]; p++) {
        tu.push(u);
        ti.push(ratings.indices[p]);
      }
    }
    const fit = rmse(model.predict(tu, ti), ratings.values);
    const base = rmse(new Float32Array(tu.length).fill(model.globalMean), ratings.values);
    expect(fit).toBeLessThan(base);
    model.dispose();
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await AutoRec.fit(tf, ratings, small);
    const b = await AutoRec.fit(tf, ratings, small);
    const c = await AutoRec.fit(tf, ratings, { ...small, seed: 4 });
    expect(b.predict(allU, allI)).toEqual(a.predict(allU, allI));
    expect(b.toBytes()).toEqual(a.toBytes());
    expect(c.predict(allU, allI)).not.toEqual(a.predict(allU, allI));
    [a, b, c].forEach((model) => model.dispose());
  });

  it('round-trips through toBytes/fromBytes with identical outputs', async () => {
    const model = await AutoRec.fit(tf, ratings, small);
    const copy = AutoRec.fromBytes(tf, model.toBytes());
    expect(copy.hyperparameters).toEqual(model.hyperparameters);
    expect(copy.globalMean).toBe(model.globalMean);
    expect(copy.predict(allU, allI)).toEqual(model.predict(allU, allI));
    expect(copy.itemVectors()).toEqual(model.itemVectors());
    expect(copy.reconstruct(ratings, range(12))).toEqual(model.reconstruct(ratings, range(12)));
    expect(copy.reconstruct(ratings)).toEqual(model.reconstruct(ratings)); // fold-in path
    expect(() => AutoRec.fromBytes(tf, new Uint8Array(16))).toThrow(/not an AutoRec model/);
    expect(() => AutoRec.fromBytes(tf, model.toBytes().subarray(0, 100))).toThrow(/corrupt|expected/);
    model.dispose();
    copy.dispose();
  });

  it('clips predictions to [1, 5] while reconstruct stays raw', async () => {
    // One tiny step from the initialisation: raw outputs are near 0, so clipping is visible.
    const model = await AutoRec.fit(tf, ratings, { ...small, epochs: 1, learningRate: 1e-4 });
    const raw = model.reconstruct(ratings, range(12));
    const pred = model.predict(allU, allI);
    expect(Math.min(...raw)).toBeLessThan(1);
    for (const p of pred) expect(p >= 1 && p <= 5).toBe(true);
    for (let k = 0; k < pred.length; k++) {
      if (allI[k] !== 9) expect(pred[k]).toBeCloseTo(clipRating(raw[k]), 5);
    }
    expect(clipRating(7)).toBe(5);
    expect(clipRating(-2)).toBe(1);
    model.dispose();
  });

  it('predicts the global training mean for unknown users and items', async () => {
    const withEmptyUser = csrFromTriples(13, 10, [0, 0, 1, 2, 2], [0, 1, 1, 0, 2], [5, 4, 2, 1, 3]); // users 3..12 empty
    const model = await AutoRec.fit(tf, withEmptyUser, small);
    expect(model.globalMean).toBeCloseTo(3, 6);
    const p = model.predict([-1, 0, 7, 100, 0], [0, -1, 1, 0, 9]);
    expect(Array.from(p)).toEqual([3, 3, 3, 3, 3]);
    model.dispose();
    const big = await AutoRec.fit(tf, ratings, small);
    expect(big.predict([0], [9])[0]).toBeCloseTo(clipRating(big.globalMean), 6); // item 9: no training ratings
    big.dispose();
  });

  it('serves known users as userQueries · itemVectorsᵀ and folds in unknown users', async () => {
    const model = await AutoRec.fit(tf, ratings, small);
    const D = model.itemVectorDim;
    expect(D).toBe(small.hidden + 1);
    expect(model.latentDim).toBe(small.hidden);
    const users = Int32Array.from([3, 0, -1]);
    const hist: CsrMatrix = {
      numRows: 3,
      numCols: 10,
      indptr: Int32Array.from([0, 0, 0, 2]),
      indices: Int32Array.from([1, 4]),
      values: Float32Array.from([5, 1]),
    };
    const q = model.userQueries(hist, users);
    const items = model.itemVectors();
    const rec = model.reconstruct(hist, users);
    const enc = model.encode(hist, users);
    expect(rec).toHaveLength(3 * 10);
    expect(enc).toHaveLength(3 * small.hidden);
    for (let r = 0; r < 3; r++) {
      expect(Array.from(enc.subarray(r * small.hidden, (r + 1) * small.hidden))).toEqual(
        Array.from(q.subarray(r * D, r * D + small.hidden)),
      );
      for (let i = 0; i < 10; i++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[r * D + d] * items[i * D + d];
        expect(rec[r * 10 + i]).toBeCloseTo(dot, 4);
        if (r < 2 && i !== 9) expect(model.predict([users[r]], [i])[0]).toBeCloseTo(clipRating(dot), 4);
      }
    }
    // Fold-in follows the history: the rated-5 item scores above the rated-1 item.
    expect(rec[2 * 10 + 1]).toBeGreaterThan(rec[2 * 10 + 4]);
    // An empty history with no user index gets the mean query (the same for every such row).
    const empty: CsrMatrix = {
      numRows: 2,
      numCols: 10,
      indptr: new Int32Array(3),
      indices: new Int32Array(0),
      values: new Float32Array(0),
    };
    const eq = model.userQueries(empty);
    expect(eq.subarray(0, D)).toEqual(eq.subarray(D, 2 * D));
    expect(() => model.reconstruct({ ...empty, numCols: 11 })).toThrow(/columns/);
    model.dispose();
    expect(() => model.itemVectors()).toThrow(/disposed/);
  });

  it('stops early on shouldStop and reports validation RMSE', async () => {
    const reports: { epoch: number; validation?: number }[] = [];
    let steps = 0;
    const model = await AutoRec.fit(tf, ratings, small, {
      validation: { users: [0, 1, 2], items: [0, 1, 2], ratings: [3, 3, 3] },
      onEpoch: (r) => reports.push(r),
      shouldStop: () => ++steps >= 5,
    });
    expect(reports).toHaveLength(2); // 3 batches per epoch: stops in epoch 2
    expect(reports.every((r) => typeof r.validation === 'number' && r.validation >= 0)).toBe(true);
    model.dispose();
  });

  it('reports validation RMSE and MAE of the model as it stands after each validated epoch', async () => {
    const v = {
      users: Int32Array.from([0, 1, 2, 3, 5]),
      items: Int32Array.from([0, 1, 2, 3, 9]),
      ratings: Float32Array.from([5, 1, 3, 4, 2]),
    };
    for (const refitDecoder of [false, true]) {
      const reports: { epoch: number; rmse: number; mae: number }[] = [];
      const epochValidation: (number | undefined)[] = [];
      const model = await AutoRec.fit(
        tf,
        ratings,
        { ...small, epochs: 7, refitDecoder },
        {
          validation: v,
          validateEvery: 3,
          onValidation: (r) => reports.push(r),
          onEpoch: (r) => epochValidation.push(r.validation),
        },
      );
      expect(reports.map((r) => r.epoch)).toEqual([3, 6, 7]); // every 3rd epoch and the last
      expect(epochValidation.map((x) => x !== undefined)).toEqual([false, false, true, false, false, true, true]);
      expect(reports.map((r) => r.rmse)).toEqual([epochValidation[2], epochValidation[5], epochValidation[6]]);
      // The last report scores exactly the returned model (with the decoder refit when asked).
      const predicted = model.predict(v.users, v.items);
      expect(reports[2].rmse).toBeCloseTo(rmse(predicted, v.ratings), 6);
      expect(reports[2].mae).toBeCloseTo(mae(predicted, v.ratings), 6);
      for (const r of reports) expect(r.mae).toBeLessThanOrEqual(r.rmse + 1e-12);
      model.dispose();
    }
  });

  it('clips predictions to the range of the training ratings and keeps it through toBytes', async () => {
    const narrow = csrFromTriples(4, 3, [0, 0, 1, 2, 3], [0, 1, 1, 2, 0], [2.5, 4, 3, 3.5, 2.5]);
    // One tiny step from the initialisation: raw outputs are near 0, far below the scale.
    const model = await AutoRec.fit(tf, narrow, { ...small, epochs: 1, learningRate: 1e-4 });
    expect(model.ratingRange).toEqual([2.5, 4]);
    const pred = model.predict([0, 1, 2, 3], [0, 1, 2, 0]);
    expect(Array.from(pred)).toEqual([2.5, 2.5, 2.5, 2.5]);
    const copy = AutoRec.fromBytes(tf, model.toBytes());
    expect(copy.ratingRange).toEqual([2.5, 4]);
    expect(copy.predict([0, 1, 2, 3], [0, 1, 2, 0])).toEqual(pred);
    [model, copy].forEach((m) => m.dispose());
  });

  it('refits decoder rows in closed form when asked, and still round-trips', async () => {
    const plain = await AutoRec.fit(tf, ratings, small);
    const refit = await AutoRec.fit(tf, ratings, { ...small, refitDecoder: true });
    expect(refit.hyperparameters.refitDecoder).toBe(true);
    const a = plain.predict(allU, allI);
    const b = refit.predict(allU, allI);
    expect(b).not.toEqual(a);
    expect(refit.itemVectors()).toEqual(plain.itemVectors()); // the encoder and codes are untouched
    // Each refit row is exactly the fold-in of that user's training ratings under the Adam rows'
    // prior (the refit looks kernel entries up in the item Gram matrix; fold-in computes them).
    expect(refit.userQueries(ratings, range(12))).toEqual(plain.userQueries(ratings));
    const copy = AutoRec.fromBytes(tf, refit.toBytes());
    expect(copy.predict(allU, allI)).toEqual(b);
    expect(copy.reconstruct(ratings)).toEqual(refit.reconstruct(ratings));
    [plain, refit, copy].forEach((m) => m.dispose());
  });

  it('leaks no tensors', async () => {
    const before = tf.memory().numTensors;
    const model = await AutoRec.fit(tf, ratings, small, { validation: { users: [0], items: [0], ratings: [4] } });
    model.reconstruct(ratings, range(12));
    model.reconstruct(ratings);
    model.predict(allU, allI);
    const copy = AutoRec.fromBytes(tf, model.toBytes());
    copy.reconstruct(ratings);
    copy.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad hyperparameters and empty data', async () => {
    await expect(AutoRec.fit(tf, ratings, { hidden: 0 })).rejects.toThrow(/hidden/);
    await expect(AutoRec.fit(tf, ratings, { lambda: -1 })).rejects.toThrow(/lambda/);
    await expect(AutoRec.fit(tf, csrFromTriples(3, 3, [], []), small)).rejects.toThrow(/no ratings/);
  });
});
