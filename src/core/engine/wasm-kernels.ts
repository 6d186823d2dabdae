import * as tf from '@tensorflow/tfjs';
import type { NativeGemm } from './native-gemm.js';

/**
 * The slice of the wasm backend's API that JS kernels use (`BackendWasm` of
 * @tensorflow/tfjs-backend-wasm). Tensor data lives on the wasm heap; `typedArrayFromHeap` is a
 * view of it that becomes invalid when the heap grows (i.e. after any allocation).
 */
interface WasmBackendLike {
  makeOutput(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: number,
    values?: tf.backend_util.BackendValues,
  ): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * JS `UnsortedSegmentSum` for the wasm backend, which has none (tf.gather's gradient needs it):
 * out[s, …] = Σ_{i : segmentIds[i] = s} x[i, …], with segmentIds flattened over its own shape;
 * ids outside [0, numSegments) are dropped (as TensorFlow does for negative ids).
 *
 * Inputs: x [...segmentIds.shape, ...inner] (float32 or int32), segmentIds int32.
 * Output: [numSegments, ...inner], x's dtype.
 */
const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const x = inputs.x!;
  const segmentIds = inputs.segmentIds!;
  const numSegments = Number(attrs!.numSegments);
  const b = backend as WasmBackendLike;
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new Error(`UnsortedSegmentSum (wasm, Recoder): unsupported dtype ${x.dtype}`);
  const idRank = segmentIds.shape.length;
  const innerShape = x.shape.slice(idRank);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const outShape = [numSegments, ...innerShape];
  const out = b.makeOutput(outShape, x.dtype);
  // Views are taken after the allocation above (which may grow and move the heap).
  const xs = b.typedArrayFromHeap(x);
  const idsRaw = b.typedArrayFromHeap(segmentIds);
  const os = b.typedArrayFromHeap(out);
  os.fill(0);
  const n = inner === 0 ? segmentIds.shape.reduce((p, d) => p * d, 1) : xs.length / inner;
  for (let i = 0; i < n; i++) {
    const s = idsRaw[i];
    if (!(s >= 0 && s < numSegments)) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) os[dst + j] += xs[src + j];
  }
  return out;
};

/**
 * `Conv2DBackpropFilter` (the filter gradient of tf.conv2d, needed to train convolutional
 * layers) for the wasm backend, which has none. It is computed with the backend's own forward
 * Conv2D (XNNPACK): with x padded as the forward pass padded it,
 *   dW[kh, kw, ci, co] = Σ_{n,h,w} x[n, h·s + kh, w·s + kw, ci] · dy[n, h, w, co],
 * which is a 'valid' convolution of x seen as [Ci, H, W, N] (channels as the batch, the batch as
 * channels) by dy seen as a filter [Ho, Wo, N, Co], dilated by the stride. NHWC, dilation 1.
 */
const conv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as WasmBackendLike;
  const a = attrs as unknown as {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number;
    dataFormat: string;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter (wasm, Recoder): only NHWC, got ${a.dataFormat}`);
  const x = inputs.x!;
  const dy = inputs.dy!;
  const [kh, kw, ci, co] = a.filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const { top, bottom, left, right } = info.padInfo;
  // The backend's own kernels on TensorInfos (as its composite kernels do); intermediates freed here.
  const run = (name: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: tf.NamedAttrMap): tf.TensorInfo =>
    tf.getKernel(name, 'wasm')!.kernelFunc({ inputs: kernelInputs, backend, attrs: kernelAttrs }) as tf.TensorInfo;
  const temporaries: tf.TensorInfo[] = [];
  const temp = (t: tf.TensorInfo) => (temporaries.push(t), t);
  try {
    const padded =
      top || bottom || left || right
        ? temp(
            run(
              'PadV2',
              { x },
              {
                paddings: [
                  [0, 0],
                  [top, bottom],
                  [left, right],
                  [0, 0],
                ],
                constantValue: 0,
              },
            ),
          )
        : x;
    const xs = temp(run('Transpose', { x: padded }, { perm: [3, 1, 2, 0] })); // [Ci, Hp, Wp, N]
    const f = temp(run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] })); // [Ho, Wo, N, Co]
    const full = temp(
      run(
        'Conv2D',
        { x: xs, filter: f },
        { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] },
      ),
    ); // [Ci, ≥kh, ≥kw, Co]
    const sliced = temp(run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] }));
    return run('Transpose', { x: sliced }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temporaries) b.disposeData(t.dataId);
  }
};

/**
 * Registers Recoder's JS kernels for the wasm backend (`UnsortedSegmentSum`, `Conv2DBackpropFilter`). Safe to
 * call more than once; a kernel that already exists for wasm (e.g. a future tfjs release) is kept.
 */
export function registerWasmKernels(): void {
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter });
  }
}

/**
 * Products of at least this many multiply-adds go to the native GEMM; smaller ones stay on
 * XNNPACK, where a call costs less than the native binding's fixed overhead (about 20 µs).
 */
export const NATIVE_MATMUL_MIN_MACS = 1 << 18;

let wasmBatchMatMul: tf.KernelConfig | undefined;
let wasmFusedMatMul: tf.KernelConfig | undefined;
let nativeRoute = false;

/** Whether the wasm backend's matMuls currently run on a native GEMM ({@link useNativeMatMul}). */
export function nativeMatMulActive(): boolean {
  return nativeRoute;
}

/**
 * Routes the wasm backend's `BatchMatMul` (tf.matMul) and `_FusedMatMul` (tf.fused.matMul with a
 * rank-1 bias or none, no activation) to a {@link NativeGemm} for 2-D products of at least
 * `minMacs` multiply-adds, with either operand transposed (plain products of fewer than 32 rows
 * excepted: XNNPACK's cached packing makes those as fast); batched (rank > 2), smaller and
 * non-float32 products, and fused activations, keep the backend's own kernels. Registering again
 * replaces the previous native GEMM; `undefined` restores the backend's kernels.
 */
export function useNativeMatMul(gemm: NativeGemm | undefined, minMacs = NATIVE_MATMUL_MIN_MACS): void {
  wasmBatchMatMul ??= tf.getKernel('BatchMatMul', 'wasm');
  wasmFusedMatMul ??= tf.getKernel('_FusedMatMul', 'wasm');
  const own = wasmBatchMatMul;
  const ownFused = wasmFusedMatMul;
  if (!own || !ownFused)
    throw new Error('useNativeMatMul: the wasm backend has no BatchMatMul/_FusedMatMul kernel (is it registered?)');
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.unregisterKernel('_FusedMatMul', 'wasm');
  nativeRoute = gemm !== undefined;
  if (!gemm) {
    tf.registerKernel(own);
    tf.registerKernel(ownFused);
    return;
  }
  /** The product natively, or undefined when the backend's kernel should run it. */
  const product = (args: Parameters<tf.KernelFunc>[0], bias?: tf.TensorInfo): tf.TensorInfo | undefined => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    // 2-D operands, or rank 3 with a batch of one.
    const single = (t: tf.TensorInfo) => t.shape.length === 2 || (t.shape.length === 3 && t.shape[0] === 1);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !single(a) || !single(b) || a.shape.length !== b.shape.length)
      return undefined;
    const [ar, ac] = a.shape.slice(-2);
    const [br, bc] = b.shape.slice(-2);
    const m = transposeA ? ac : ar;
    const k = transposeA ? ar : ac;
    const n = transposeB ? br : bc;
    // XNNPACK keeps the packed right operand of a plain product: for a few rows it is as fast.
    if (m * k * n < minMacs || (m < 32 && !transposeA && !transposeB)) return undefined;
    if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== n)) return undefined;
    const backend = args.backend as WasmBackendLike;
    const y = gemm.gemm(
      backend.typedArrayFromHeap(a) as Float32Array,
      backend.typedArrayFromHeap(b) as Float32Array,
      m,
      k,
      n,
      transposeA,
      transposeB,
    );
    if (bias) {
      const bv = backend.typedArrayFromHeap(bias) as Float32Array;
      for (let r = 0, o = 0; r < m; r++) for (let c = 0; c < n; c++, o++) y[o] += bv[c];
    }
    const out = backend.makeOutput(a.shape.length === 2 ? [m, n] : [1, m, n], 'float32');
    (backend.typedArrayFromHeap(out) as Float32Array).set(y); // a view taken after the allocation
    return out;
  };
  tf.registerKernel({ ...own, kernelFunc: (args) => product(args) ?? own.kernelFunc(args) });
  tf.registerKernel({
    ...ownFused,
    kernelFunc: (args) => {
      const { bias, preluActivationWeights } = args.inputs as {
        bias?: tf.TensorInfo;
        preluActivationWeights?: unknown;
      };
      const { activation } = args.attrs as { activation?: string };
      const plain = (activation === undefined || activation === 'linear') && !preluActivationWeights;
      return (plain ? product(args, bias) : undefined) ?? ownFused.kernelFunc(args);
    },
  });
}
