import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';
import { matMulFast } from './ops.js';

const FLAGS: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

/** Shapes of a and b for op(a)·op(b) = [batch…, m × n] with inner size k. */
function shapes(batch: number[], m: number, k: number, n: number, tA: boolean, tB: boolean): [number[], number[]] {
  return [
    [...batch, ...(tA ? [k, m] : [m, k])],
    [...batch, ...(tB ? [n, k] : [k, n])],
  ];
}

function expectClose(a: tf.Tensor, b: tf.Tensor): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(1e-4 * (1 + Math.abs(y[i])));
}

/** Forward values and both gradients (of a weighted sum, so dy is not all ones) vs tf.matMul. */
function compare(batch: number[], m: number, k: number, n: number, tA: boolean, tB: boolean, seed: number): void {
  tf.tidy(() => {
    const [sa, sb] = shapes(batch, m, k, n, tA, tB);
    const a = tf.randomNormal(sa, 0, 1, 'float32', seed);
    const b = tf.randomNormal(sb, 0, 1, 'float32', seed + 1);
    const w = tf.randomNormal([...batch, m, n], 0, 1, 'float32', seed + 2);
    expectClose(matMulFast(a, b, tA, tB), tf.matMul(a, b, tA, tB));
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => matMulFast(x, y, tA, tB).mul(w).sum())([a, b]);
    const [ra, rb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, tA, tB).mul(w).sum())([a, b]);
    expectClose(ga, ra);
    expectClose(gb, rb);
  });
}

describe('matMulFast', () => {
  beforeAll(async () => {
    expect((await initBackend()).name).toBe('wasm');
  });

  it.each(FLAGS)('wasm, rank 2, transposeA=%s transposeB=%s: values and gradients equal tf.matMul', (tA, tB) => {
    compare([], 7, 5, 3, tA, tB, 10);
    compare([], 1, 6, 4, tA, tB, 20); // a size-1 dimension (identity transposes)
  });

  it.each(FLAGS)('wasm, rank 3 batched, transposeA=%s transposeB=%s', (tA, tB) => {
    compare([2], 4, 3, 5, tA, tB, 30);
  });

  it('runs the Recoder kernel on wasm, and computes only the gradients backprop needs', async () => {
    const a = tf.randomNormal([6, 4], 0, 1, 'float32', 1); // a constant input (e.g. data)
    const b = tf.variable(tf.randomNormal([5, 4], 0, 1, 'float32', 2));
    const before = tf.memory().numTensors;
    let grad: tf.Tensor | undefined;
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => matMulFast(a, b, false, true).square().sum());
      value.dispose();
      grad = grads[b.name];
    });
    const kernels = info.kernels.map((k) => k.name);
    // One forward matMul, one for dB; none for dA. No transposed BatchMatMul anywhere.
    expect(kernels.filter((k) => k === 'RecoderMatMulFast')).toHaveLength(2);
    expect(kernels).not.toContain('BatchMatMul');
    const ref = tf.grad((y: tf.Tensor) => tf.matMul(a, y, false, true).square().sum())(b);
    expectClose(grad!, ref);
    ref.dispose();
    grad!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });

  it('does not leak tensors (forward and backward)', () => {
    const a = tf.randomNormal([8, 3]);
    const b = tf.randomNormal([8, 5]);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      tf.grads((x: tf.Tensor, y: tf.Tensor) => matMulFast(x, y, true, false).sum())([a, b]);
    });
    const out = matMulFast(a, b, true, false);
    expect(tf.memory().numTensors).toBe(before + 1);
    out.dispose();
    a.dispose();
    b.dispose();
  });

  it('falls back to tf.matMul for broadcasting batch shapes', () => {
    tf.tidy(() => {
      const a = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 5);
      const b = tf.randomNormal([4, 2], 0, 1, 'float32', 6);
      expectClose(matMulFast(a, b), tf.matMul(a, b));
    });
  });

  it('throws on mismatched inner dimensions', () => {
    tf.tidy(() => {
      expect(() => matMulFast(tf.zeros([2, 3]), tf.zeros([4, 2]))).toThrow(/inner dimensions/);
    });
  });

  it('on the cpu backend it is tf.matMul', async () => {
    await tf.setBackend('cpu');
    try {
      for (const [tA, tB] of FLAGS) compare([], 4, 3, 2, tA, tB, 40);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});
