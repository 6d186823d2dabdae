import * as tf from '@tensorflow/tfjs';

/**
 * Kernel (wasm only) behind {@link matMulFast}: materialises the requested transposes with the
 * wasm Transpose kernel, then runs a non-transposed BatchMatMul, the only form the wasm backend
 * hands to XNNPACK (transposed matMuls run about 10× slower there; docs/platform-notes.md, "tfjs").
 */
const MATMUL_FAST = 'RecoderMatMulFast';

let registered = false;

interface KernelBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function ensureRegistered(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel(MATMUL_FAST, 'wasm')) {
    tf.registerKernel({
      kernelName: MATMUL_FAST,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const transpose = tf.getKernel(tf.Transpose, 'wasm')!.kernelFunc;
        const batchMatMul = tf.getKernel(tf.BatchMatMul, 'wasm')!.kernelFunc;
        const a = inputs.a!;
        const b = inputs.b!;
        const temps: tf.TensorInfo[] = [];
        const materialise = (x: tf.TensorInfo, transposed: unknown): tf.TensorInfo => {
          if (!transposed) return x;
          const t = transpose({
            inputs: { x },
            backend,
            attrs: { perm: swapLastTwo(x.shape.length) },
          }) as tf.TensorInfo;
          temps.push(t);
          return t;
        };
        const at = materialise(a, attrs!.transposeA);
        const bt = materialise(b, attrs!.transposeB);
        const out = batchMatMul({
          inputs: { a: at, b: bt },
          backend,
          attrs: { transposeA: false, transposeB: false },
        }) as tf.TensorInfo;
        for (const t of temps) (backend as KernelBackendLike).disposeData(t.dataId);
        return out;
      },
    });
  }
  tf.registerGradient({
    kernelName: MATMUL_FAST,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const g = dy as tf.Tensor;
      const tA = Boolean(attrs.transposeA);
      const tB = Boolean(attrs.transposeB);
      // C = op(A)·op(B). Each gradient is itself a matMulFast (explicit transposes, plain matMul)
      // and is only computed when backprop needs that input.
      if (!tA && !tB) return { a: () => matMulFast(g, b, false, true), b: () => matMulFast(a, g, true, false) };
      if (!tA && tB) return { a: () => matMulFast(g, b, false, false), b: () => matMulFast(g, a, true, false) };
      if (tA && !tB) return { a: () => matMulFast(b, g, false, true), b: () => matMulFast(a, g, false, false) };
      return { a: () => matMulFast(b, g, true, true), b: () => matMulFast(g, a, true, true) };
    },
  });
}

/**
 * Matrix product op(a)·op(b), op = transpose when the flag is set: same result and gradients as
 * `tf.matMul(a, b, transposeA, transposeB)`, faster on wasm.
 *
 * On the wasm backend, transposes are materialised explicitly (`Transpose`) and a plain
 * non-transposed matMul runs, forward AND backward: the gradients (dA, dB) are computed the same
 * way, lazily (only for inputs that backprop needs), instead of autograd's transposed matMuls.
 * Other backends call `tf.matMul` with the flags. Batched inputs work when both have the same
 * rank and identical batch dims; other (broadcasting) shapes, and non-float32 inputs, fall back
 * to `tf.matMul`.
 *
 * @param a [..., m, k] (or [..., k, m] when transposeA)
 * @param b [..., k, n] (or [..., n, k] when transposeB)
 * @returns [..., m, n]
 * @example
 *   const logits = matMulFast(h, w);            // [batch × hidden]·[hidden × items]
 *   const scores = matMulFast(u, items, false, true); // [q × d]·[n × d]ᵀ
 */
export function matMulFast<T extends tf.Tensor>(a: T, b: T, transposeA = false, transposeB = false): T {
  if (
    tf.getBackend() !== 'wasm' ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    a.rank < 2 ||
    a.rank !== b.rank ||
    !sameBatch(a.shape, b.shape)
  ) {
    return tf.matMul(a, b, transposeA, transposeB) as T;
  }
  const inner = (x: tf.Tensor, t: boolean) => x.shape[t ? x.rank - 2 : x.rank - 1];
  const innerB = b.shape[transposeB ? b.rank - 1 : b.rank - 2];
  if (inner(a, transposeA) !== innerB) {
    throw new Error(
      `matMulFast: inner dimensions differ: a ${JSON.stringify(a.shape)}${transposeA ? 'ᵀ' : ''} · b ${JSON.stringify(b.shape)}${transposeB ? 'ᵀ' : ''}`,
    );
  }
  ensureRegistered();
  return tf.engine().runKernel(MATMUL_FAST, { a, b }, { transposeA, transposeB }) as T;
}

function sameBatch(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length - 2; i++) if (a[i] !== b[i]) return false;
  return true;
}
