import * as tf from '@tensorflow/tfjs';

/**
 * The slice of the wasm backend's API that JS kernels use (`BackendWasm` of
 * @tensorflow/tfjs-backend-wasm). Tensor data lives on the wasm heap; `typedArrayFromHeap` is a
 * view of it that becomes invalid when the heap grows (i.e. after any allocation).
 */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
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
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum (wasm, Recoder): unsupported dtype ${x.dtype}`);
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
 * Registers Recoder's JS kernels for the wasm backend (currently `UnsortedSegmentSum`). Safe to
 * call more than once; a kernel that already exists for wasm (e.g. a future tfjs release) is kept.
 */
export function registerWasmKernels(): void {
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
}
