import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../data/random.js';
import { activeNativeGemm, initBackend } from './backend.js';
import { loadNativeGemm, type NativeGemm } from './native-gemm.js';
import { nativeMatMulActive, useNativeMatMul } from './wasm-kernels.js';

/** op(A)·op(B) in float64, row-major. */
function reference(a: Float32Array, b: Float32Array, m: number, k: number, n: number, tA: boolean, tB: boolean) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (tA ? a[p * m + i] : a[i * k + p]) * (tB ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  return c;
}

function maxDiff(y: ArrayLike<number>, r: ArrayLike<number>): number {
  expect(y.length).toBe(r.length);
  let d = 0;
  for (let i = 0; i < y.length; i++) d = Math.max(d, Math.abs(y[i] - r[i]));
  return d;
}

const rng = new Random(11);
const random = (n: number) => rng.fillNormal(new Float32Array(n));

describe('loadNativeGemm (onnxruntime-node)', () => {
  let gemm: NativeGemm;
  beforeAll(() => {
    gemm = loadNativeGemm();
  });

  it('names the package and version it runs on', () => {
    expect(gemm.description).toMatch(/^onnxruntime-node \d+\.\d+\.\d+$/);
  });

  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('gemm with transA %s, transB %s equals the float64 product', (tA, tB) => {
    const [m, k, n] = [37, 53, 29];
    const a = random(m * k);
    const b = random(k * n);
    const y = gemm.gemm(a, b, m, k, n, tA, tB);
    expect(y).toHaveLength(m * n);
    expect(maxDiff(y, reference(a, b, m, k, n, tA, tB))).toBeLessThan(1e-4);
  });

  it.each([
    ['an ArrayBuffer', (bytes: number) => new ArrayBuffer(bytes)],
    ['a SharedArrayBuffer (copied: the binding rejects those)', (bytes: number) => new SharedArrayBuffer(bytes)],
  ])('reads views at an offset into %s', (_, allocate) => {
    const [m, k, n] = [5, 7, 3];
    const backing = new Float32Array(allocate(4 * (m * k + k * n + 8)));
    backing.set(random(backing.length));
    const a = backing.subarray(3, 3 + m * k);
    const b = backing.subarray(5 + m * k, 5 + m * k + k * n);
    expect(maxDiff(gemm.gemm(a, b, m, k, n, false, true), reference(a, b, m, k, n, false, true))).toBeLessThan(1e-5);
    const fixed = gemm.withFixedRight(b, k, n, false);
    expect(maxDiff(fixed.run(a, m), reference(a, b, m, k, n, false, false))).toBeLessThan(1e-5);
    fixed.dispose();
  });

  it('a fixed right operand gives the same products for any number of rows, until disposed', () => {
    const [k, n] = [41, 67];
    for (const tB of [false, true]) {
      const b = random(k * n);
      const fixed = gemm.withFixedRight(b, k, n, tB);
      for (const m of [1, 3, 64]) {
        const a = random(m * k);
        expect(maxDiff(fixed.run(a, m), reference(a, b, m, k, n, false, tB))).toBeLessThan(1e-4);
      }
      fixed.dispose();
      expect(() => fixed.run(random(k), 1)).toThrow(/disposed/);
      fixed.dispose(); // idempotent
    }
  });

  it('runs on more threads when asked, with the same products', () => {
    const two = loadNativeGemm({ threads: 2 });
    expect(two.description).toMatch(/^onnxruntime-node \d+\.\d+\.\d+, 2 threads$/);
    const [m, k, n] = [64, 96, 300];
    const a = random(m * k);
    const b = random(k * n);
    expect(maxDiff(two.gemm(a, b, m, k, n, false, true), reference(a, b, m, k, n, false, true))).toBeLessThan(1e-4);
    const fixed = two.withFixedRight(b, k, n, false);
    expect(maxDiff(fixed.run(a, m), reference(a, b, m, k, n, false, false))).toBeLessThan(1e-4);
    fixed.dispose();
    expect(() => loadNativeGemm({ threads: 0 })).toThrow(/threads must be a positive integer/);
  });

  it('a dense chain computes its layers (tanh where asked) like float64 arithmetic, row by row alike', () => {
    const dims = [23, 17, 9, 13];
    const layers = dims.slice(1).map((outDim, i) => ({
      weights: random(dims[i] * outDim),
      bias: random(outDim),
      inDim: dims[i],
      outDim,
      tanh: i !== 1, // the middle one linear (a VAE's μ layer)
    }));
    const chain = gemm.denseChain(layers, true);
    const expected = (a: Float32Array, m: number) => {
      let h = Array.from(a, Math.tanh);
      for (const l of layers) {
        const y = reference(Float32Array.from(h), l.weights, m, l.inDim, l.outDim, false, false);
        for (let r = 0; r < m; r++) for (let c = 0; c < l.outDim; c++) y[r * l.outDim + c] += l.bias[c];
        h = Array.from(y, l.tanh ? Math.tanh : (v: number) => v);
      }
      return h;
    };
    const a = random(19 * dims[0]);
    const all = chain.run(a, 19);
    expect(maxDiff(all, expected(a, 19))).toBeLessThan(1e-4);
    // One row alone gives that row's values of the batch exactly (a batched answer is the answer alone).
    for (const r of [0, 7, 18]) {
      const alone = chain.run(a.slice(r * dims[0], (r + 1) * dims[0]), 1);
      expect(Array.from(alone)).toEqual(Array.from(all.subarray(r * dims[3], (r + 1) * dims[3])));
    }
    expect(() => chain.run(random(5), 1)).toThrow(/5 values for \[1×23\]/);
    chain.dispose();
    expect(() => chain.run(a, 19)).toThrow(/disposed/);
    expect(() => gemm.denseChain([], false)).toThrow(/at least one layer/);
    expect(() => gemm.denseChain([layers[0], layers[2]], false)).toThrow(/layer 1 takes 9 values, layer 0 gives 17/);
    expect(() => gemm.denseChain([{ ...layers[0], bias: random(3) }], false)).toThrow(/3 biases/);
  });

  it('rejects operands whose sizes do not match the shape', () => {
    expect(() => gemm.gemm(random(6), random(6), 2, 3, 3, false, false)).toThrow(/operands of 6 and 6 values/);
    expect(() => gemm.withFixedRight(random(5), 2, 3, false)).toThrow(/fixed operand of 5 values/);
    const fixed = gemm.withFixedRight(random(6), 2, 3, false);
    expect(() => fixed.run(random(5), 2)).toThrow(/5 values for \[2×2\]/);
    fixed.dispose();
  });

  it('says "not installed" where the package cannot be resolved', () => {
    const empty = mkdtempSync(join(tmpdir(), 'recoder-no-ort-'));
    expect(() => loadNativeGemm({ resolveFrom: join(empty, 'x.js') })).toThrow(
      /onnxruntime-node is not installed \(it is an optional dependency\)/,
    );
  });
});

describe('the wasm backend with the native matMul route', () => {
  let gemm: NativeGemm;
  let calls = 0;
  beforeAll(async () => {
    expect((await initBackend({ prefer: 'wasm' })).name).toBe('wasm');
    gemm = activeNativeGemm()!;
    expect(gemm).toBeDefined();
    expect(nativeMatMulActive()).toBe(true);
  });
  afterAll(() => useNativeMatMul(gemm)); // as initBackend left it

  /** The native GEMM, counting the products routed to it. */
  const counting = (): NativeGemm => ({
    description: 'counting',
    gemm: (...args) => (calls++, gemm.gemm(...args)),
    withFixedRight: (...args) => gemm.withFixedRight(...args),
    denseChain: (...args) => gemm.denseChain(...args),
  });

  it('routes large products (either operand transposed) and leaves small ones on XNNPACK, same results', () => {
    useNativeMatMul(counting(), 10_000);
    for (const [m, k, n, tA, tB, routed] of [
      [64, 40, 50, false, false, true], // 128,000 multiply-adds
      [64, 40, 50, true, false, true],
      [64, 40, 50, false, true, true],
      [64, 40, 50, true, true, true],
      [10, 10, 10, false, true, false], // 1,000: below the threshold
      [8, 100, 100, false, false, false], // a plain product of 8 rows: XNNPACK's cached packing
      [8, 100, 100, true, false, true], // … but not when transposed
    ] as const) {
      const a = random(m * k);
      const b = random(k * n);
      const before = calls;
      const y = tf.tidy(() =>
        tf.matMul(tf.tensor2d(a, tA ? [k, m] : [m, k]), tf.tensor2d(b, tB ? [n, k] : [k, n]), tA, tB).dataSync(),
      );
      expect(calls - before).toBe(routed ? 1 : 0);
      expect(maxDiff(y, reference(a, b, m, k, n, tA, tB))).toBeLessThan(1e-3);
    }
  });

  it('routes fused products with a bias (no activation), keeps fused activations on the backend', () => {
    useNativeMatMul(counting(), 10_000);
    const [m, k, n] = [64, 40, 50];
    const a = random(m * k);
    const b = random(k * n);
    const bias = random(n);
    // (Not transposed: tfjs-wasm 4.22's own fused kernel adds the bias wrongly with transposeB.)
    const expected = reference(a, b, m, k, n, false, false);
    for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) expected[r * n + c] += bias[c];
    for (const activation of ['linear', 'relu'] as const) {
      const before = calls;
      const y = tf.tidy(() =>
        tf.fused
          .matMul({
            a: tf.tensor2d(a, [m, k]),
            b: tf.tensor2d(b, [k, n]),
            bias: tf.tensor1d(bias),
            activation,
          })
          .dataSync(),
      );
      expect(calls - before).toBe(activation === 'linear' ? 1 : 0);
      const want = activation === 'relu' ? expected.map((v) => Math.max(0, v)) : expected;
      expect(maxDiff(y, want)).toBeLessThan(1e-3);
    }
  });

  it('leaves batched products to the backend and gradients still flow through routed products', () => {
    useNativeMatMul(counting(), 1);
    const before = calls;
    const batched = tf.tidy(() => tf.matMul(tf.ones([2, 40, 40]), tf.ones([2, 40, 40])).dataSync());
    expect(calls).toBe(before);
    expect(batched[0]).toBe(40);
    // d/dA sum(A·B) = 1·Bᵀ, d/dB = Aᵀ·1: autograd's transposed products go native too.
    const a = tf.tensor2d(random(40 * 30), [40, 30]);
    const b = tf.tensor2d(random(30 * 50), [30, 50]);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.matMul(x, y)))([a, b]);
    expect(calls - before).toBeGreaterThanOrEqual(3);
    const rowSumsB = tf.sum(b, 1).dataSync();
    const colSumsA = tf.sum(a, 0).dataSync();
    expect(maxDiff(ga.dataSync().slice(0, 30), rowSumsB)).toBeLessThan(1e-4);
    expect(
      maxDiff(
        gb.dataSync().filter((_, i) => i % 50 === 0),
        colSumsA,
      ),
    ).toBeLessThan(1e-4);
    tf.dispose([a, b, ga, gb]);
  });

  it('useNativeMatMul(undefined) restores the backend kernel', () => {
    useNativeMatMul(counting(), 1);
    useNativeMatMul(undefined);
    expect(nativeMatMulActive()).toBe(false);
    const before = calls;
    const y = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]), true, false).dataSync());
    expect(calls).toBe(before);
    expect(y[0]).toBe(64);
  });
});
