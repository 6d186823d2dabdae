import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import {
  sparseMatMul,
  sparseRowsFromCsr,
  sparseTransposeMatMulWithColumnSums,
  type SparseRows,
} from './sparse-input.js';

beforeAll(async () => {
  await initBackend();
});

/** A random sparse matrix; `binary` → values 1, else values in {1, …, 5}. Row `emptyRow` has no entries. */
function randomCsr(
  rng: Random,
  rows: number,
  cols: number,
  density: number,
  binary: boolean,
  emptyRow = -1,
): CsrMatrix {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  for (let i = 0; i < rows; i++) {
    if (i === emptyRow) continue;
    for (let j = 0; j < cols; j++) {
      if (rng.uniform() < density) {
        r.push(i);
        c.push(j);
        v.push(binary ? 1 : 1 + rng.int(5));
      }
    }
  }
  return csrFromTriples(rows, cols, r, c, v);
}

function dense(x: SparseRows): Float32Array {
  const out = new Float32Array(x.numRows * x.numCols);
  for (let k = 0; k < x.rowIds.length; k++) out[x.rowIds[k] * x.numCols + x.colIds[k]] += x.values[k];
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (!(Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])))) {
      throw new Error(`index ${i}: ${actual[i]} vs ${expected[i]}`);
    }
  }
}

describe('sparseRowsFromCsr', () => {
  it('L2-normalises rows without dropout (evaluation mode)', () => {
    const m = csrFromTriples(3, 4, [0, 0, 2], [1, 3, 0], [1, 1, 2]);
    const x = sparseRowsFromCsr(m, [2, 0, 1]);
    expect(x.numRows).toBe(3);
    expect(Array.from(x.rowIds)).toEqual([0, 1, 1]);
    expect(Array.from(x.colIds)).toEqual([0, 1, 3]);
    expectClose(x.values, [1, Math.SQRT1_2, Math.SQRT1_2]);
    expectClose(x.rowScale!, [1, Math.SQRT1_2, 0]);
  });

  it('drops entries with the given probability and scales survivors by 1/(1−p)', () => {
    const rng = new Random(3);
    const m = randomCsr(rng, 50, 200, 0.3, true);
    const drop = new Random(9);
    const x = sparseRowsFromCsr(
      m,
      Array.from({ length: 50 }, (_, i) => i),
      0.5,
      () => drop.uniform(),
    );
    const nnz = m.indptr[50];
    expect(x.rowIds.length / nnz).toBeGreaterThan(0.45);
    expect(x.rowIds.length / nnz).toBeLessThan(0.55);
    for (let k = 0; k < x.rowIds.length; k++) {
      const r = x.rowIds[k];
      expect(x.values[k]).toBeCloseTo(2 / Math.sqrt(m.indptr[r + 1] - m.indptr[r]), 6);
    }
    expect(x.rowScale).toBeDefined();
  });

  it('has no per-row scale when a row mixes values', () => {
    const m = csrFromTriples(2, 3, [0, 0, 1], [0, 1, 2], [1, 2, 1]);
    expect(sparseRowsFromCsr(m, [0, 1]).rowScale).toBeUndefined();
    expect(sparseRowsFromCsr(m, [1]).rowScale).toBeDefined();
  });
});

describe.each([
  ['binary rows (segment-sum fast path)', true],
  ['weighted rows (gather path)', false],
])('sparse first layer, %s', (_name, binary) => {
  const rng = new Random(binary ? 11 : 12);
  const rows = 7;
  const cols = 23;
  const d = 5;
  // The last row is empty: segment sums omit trailing empty segments, which must be padded.
  const m = randomCsr(rng, rows, cols, 0.25, binary, rows - 1);
  const drop = new Random(5);
  const x = sparseRowsFromCsr(
    m,
    Array.from({ length: rows }, (_, i) => i),
    0.3,
    () => drop.uniform(),
  );
  const w = rng.fillNormal(new Float32Array((cols + 1) * d));
  const dOut = rng.fillNormal(new Float32Array(rows * d));

  it('forward equals the dense product x·W', () => {
    expect(x.rowScale !== undefined).toBe(binary);
    const before = tf.memory().numTensors;
    const [actual, expected] = tf.tidy(() => {
      const wT = tf.tensor2d(w, [cols + 1, d]);
      const xT = tf.tensor2d(dense(x), [rows, cols]);
      return [sparseMatMul(tf, x, wT).dataSync(), tf.matMul(xT, tf.slice(wT, [0, 0], [cols, d])).dataSync()];
    });
    expectClose(actual, expected);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gradient equals the dense [xᵀ·D; Σ_rows D] and tfjs autograd', () => {
    const before = tf.memory().numTensors;
    const [actual, expected, auto] = tf.tidy(() => {
      const xT = tf.tensor2d(dense(x), [rows, cols]);
      const dT = tf.tensor2d(dOut, [rows, d]);
      const ref = tf.concat([tf.matMul(tf.transpose(xT), dT), tf.sum(dT, 0, true)], 0);
      // Autograd of sum((x·W + b) ⊙ D) with respect to [W; b].
      const g = tf.grad((wb: tf.Tensor) => {
        const W = tf.slice(wb, [0, 0], [cols, d]);
        const b = tf.slice(wb, [cols, 0], [1, d]);
        return tf.sum(tf.mul(tf.add(tf.matMul(xT, W), b), dT));
      })(tf.tensor2d(w, [cols + 1, d]));
      return [sparseTransposeMatMulWithColumnSums(tf, x, dT).dataSync(), ref.dataSync(), g.dataSync()];
    });
    expect(actual.length).toBe((cols + 1) * d);
    expectClose(actual, expected);
    expectClose(actual, auto);
    expect(tf.memory().numTensors).toBe(before);
  });
});

it('sparse first layer handles a batch whose rows are all dropped', () => {
  const m = csrFromTriples(2, 4, [0, 1], [1, 2]);
  const x = sparseRowsFromCsr(m, [0, 1], 0.5, () => 0); // every entry dropped
  expect(x.rowIds.length).toBe(0);
  const out = tf.tidy(() => {
    const f = sparseMatMul(tf, x, tf.ones([5, 3]));
    const g = sparseTransposeMatMulWithColumnSums(tf, x, tf.ones([2, 3]));
    return [Array.from(f.dataSync()), f.shape, Array.from(g.dataSync()), g.shape];
  });
  expect(out[0]).toEqual(new Array(6).fill(0));
  expect(out[1]).toEqual([2, 3]);
  expect(out[2]).toEqual([...new Array(12).fill(0), 2, 2, 2]);
  expect(out[3]).toEqual([5, 3]);
});
