import protobuf from 'protobufjs/light.js';

/**
 * Native single-precision matrix products through ONNX Runtime's CPU kernels (MLAS), from the
 * optional dependency `onnxruntime-node`, whose npm package carries its own binaries.
 *
 * Why: the wasm backend's matMul (XNNPACK, 128-bit SIMD) reaches about 15 GFLOP/s on one core,
 * and runs transposed operands in a plain loop; ONNX Runtime's Gemm reaches 55–80 GFLOP/s on the
 * same core with either operand transposed (docs/platform-notes.md, "Native GEMM"). Each product
 * runs on the calling thread (one intra-op thread, no spinning), so a worker thread that calls
 * it costs one core, as before.
 *
 * The products are one-node ONNX graphs (a `Gemm` with symbolic sizes), run synchronously through
 * the package's native binding (`onnxruntime-node/dist/binding.js`, the synchronous session its
 * Promise API wraps), so that callers such as tfjs kernels can use it in place of a wasm matMul.
 */
export interface NativeGemm {
  /**
   * C [m × n] = op(A) · op(B): A is [m × k] ([k × m] with `transA`), B is [k × n] ([n × k] with
   * `transB`), row-major.
   */
  gemm(
    a: Float32Array,
    b: Float32Array,
    m: number,
    k: number,
    n: number,
    transA: boolean,
    transB: boolean,
  ): Float32Array;
  /**
   * A product whose right operand is fixed: B [k × n] ([n × k] with `transB`) is packed once into
   * the kernel's layout and the returned product takes only A [m × k]. For repeated scoring against
   * the same item vectors. Holds a packed copy of B until disposed.
   */
  withFixedRight(b: Float32Array, k: number, n: number, transB: boolean): FixedRightGemm;
  /**
   * Dense layers with fixed weights run as one native graph: Y = f_L(… f_1(t(A)) …) with
   * f_i(x) = x · W_i + b_i, then tanh where the layer says so, and t = tanh when `inputTanh`.
   * `run(a, m)` takes A [m × layers[0].inDim] and returns Y [m × outDim of the last layer]. Holds
   * copies of the weights until disposed.
   */
  denseChain(layers: readonly DenseLayer[], inputTanh: boolean): FixedRightGemm;
  /** "onnxruntime-node <version>". */
  readonly description: string;
}

/** See {@link NativeGemm.withFixedRight}. */
export interface FixedRightGemm {
  /** C [m × n] = A [m × k] · op(B). */
  run(a: Float32Array, m: number): Float32Array;
  dispose(): void;
}

/** One layer of {@link NativeGemm.denseChain}. */
export interface DenseLayer {
  /** W [inDim × outDim], row-major. */
  weights: Float32Array;
  /** b [outDim]. */
  bias: Float32Array;
  inDim: number;
  outDim: number;
  tanh: boolean;
}

/** Options of {@link loadNativeGemm}. */
export interface LoadNativeGemmOptions {
  /**
   * Resolves the package (default: Node's resolution from this module). For tests: a path that
   * does not hold it simulates a machine without it.
   */
  resolveFrom?: string;
  /**
   * Threads per product (default 1: the caller's alone). More suits a process whose main thread
   * does the heavy products while the others idle, e.g. the training worker's population
   * (ONNX Runtime's pool, no spinning: idle threads cost nothing).
   */
  threads?: number;
}

/** The slice of onnxruntime-node's binding and Tensor this module uses. */
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtModule {
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => OrtTensor;
  version?: string;
  env?: { versions?: { node?: string } };
}
interface OrtSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, OrtTensor>, fetches: Record<string, null>, options: object): Record<string, OrtTensor>;
  dispose(): void;
}
interface OrtBinding {
  binding: { InferenceSession: new () => OrtSession };
  initOrt(): void;
}

/** The ONNX messages a one-node Gemm graph needs; field numbers are onnx.proto's. */
const ONNX = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
          },
        },
        AttributeProto: {
          fields: { name: { type: 'string', id: 1 }, i: { type: 'int64', id: 3 }, type: { type: 'int32', id: 20 } },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensorType: { type: 'TensorTypeProto', id: 1 } },
        },
        TensorTypeProto: {
          fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
        },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
});
const ModelProto = ONNX.lookupType('onnx.ModelProto');

const FLOAT = 1; // TensorProto.DataType.FLOAT
const ATTRIBUTE_INT = 2; // AttributeProto.AttributeType.INT

type Dim = number | string;
function valueInfo(name: string, dims: readonly Dim[]): object {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Serialized ONNX model Y = op(A) · op(B), B optionally a constant [bDims] (raw float32). */
function gemmModel(
  transA: boolean,
  transB: boolean,
  fixedB?: { data: Float32Array; dims: [number, number] },
): Uint8Array {
  const aDims: Dim[] = transA ? ['k', 'm'] : ['m', 'k'];
  const bDims: Dim[] = fixedB ? fixedB.dims : transB ? ['n', 'k'] : ['k', 'n'];
  const yDims: Dim[] = ['m', fixedB ? (transB ? fixedB.dims[0] : fixedB.dims[1]) : 'n'];
  const b = fixedB
    ? { initializer: [floatTensor('B', fixedB.dims, fixedB.data)], input: [valueInfo('A', aDims)] }
    : { initializer: [], input: [valueInfo('A', aDims), valueInfo('B', bDims)] };
  return encodeModel({
    name: 'gemm',
    node: [
      {
        input: ['A', 'B'],
        output: ['Y'],
        opType: 'Gemm',
        attribute: [
          { name: 'transA', i: transA ? 1 : 0, type: ATTRIBUTE_INT },
          { name: 'transB', i: transB ? 1 : 0, type: ATTRIBUTE_INT },
        ],
      },
    ],
    ...b,
    output: [valueInfo('Y', yDims)],
  });
}

/** A serialized ONNX model (IR 8, opset 17) of one graph. */
function encodeModel(graph: object): Uint8Array {
  const message = ModelProto.fromObject({
    irVersion: 8,
    producerName: 'recoder',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  return ModelProto.encode(message).finish();
}

function floatTensor(name: string, dims: number[], data: Float32Array): object {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Serialized ONNX model of {@link NativeGemm.denseChain}: Gemm (+ Tanh) per layer, input A, output Y. */
function denseChainModel(layers: readonly DenseLayer[], inputTanh: boolean): Uint8Array {
  const node: object[] = [];
  const initializer: object[] = [];
  let current = 'A';
  if (inputTanh) {
    node.push({ input: ['A'], output: ['T'], opType: 'Tanh' });
    current = 'T';
  }
  layers.forEach((layer, i) => {
    const last = i === layers.length - 1;
    initializer.push(
      floatTensor(`W${i}`, [layer.inDim, layer.outDim], layer.weights),
      floatTensor(`B${i}`, [layer.outDim], layer.bias),
    );
    const product = last && !layer.tanh ? 'Y' : `G${i}`;
    node.push({ input: [current, `W${i}`, `B${i}`], output: [product], opType: 'Gemm' });
    current = product;
    if (layer.tanh) {
      current = last ? 'Y' : `H${i}`;
      node.push({ input: [product], output: [current], opType: 'Tanh' });
    }
  });
  return encodeModel({
    name: 'dense',
    node,
    initializer,
    input: [valueInfo('A', ['m', layers[0].inDim])],
    output: [valueInfo('Y', ['m', layers[layers.length - 1].outDim])],
  });
}

/** By default one thread (the caller's), no spinning: a product costs the calling thread, nothing else. */
function sessionOptions(threads: number) {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionProviders: ['cpu'],
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}
const NO_RUN_OPTIONS = {};
const FETCH_Y = { Y: null };

/**
 * Loads onnxruntime-node and checks a small product against plain JavaScript.
 *
 * @throws Error saying why (not installed, native library failed to load, wrong result)
 */
export function loadNativeGemm(options: LoadNativeGemmOptions = {}): NativeGemm {
  // Node's own loader even inside a test runner's sandbox: jest's `require` would evaluate
  // onnxruntime-common in its vm realm, whose Float32Array the native binding's outputs (made in
  // Node's realm) fail to match.
  const { createRequire } = process.getBuiltinModule('node:module');
  const require = createRequire(options.resolveFrom ?? import.meta.url);
  let ort: OrtModule;
  let native: OrtBinding;
  try {
    ort = require('onnxruntime-node') as OrtModule;
    native = require('onnxruntime-node/dist/binding.js') as OrtBinding;
    native.initOrt();
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(
      /Cannot find module 'onnxruntime-node'/.test(message)
        ? 'onnxruntime-node is not installed (it is an optional dependency)'
        : `onnxruntime-node failed to load: ${message}`,
      { cause: error },
    );
  }
  const version = (require('onnxruntime-node/package.json') as { version: string }).version;
  // onnxruntime-common accepts only its own realm's Float32Array (the one it builds from a plain
  // array): arrays made in another realm (a vm context, as under jest) are viewed again, without
  // a copy, as that one. The binding rejects views of a SharedArrayBuffer: those are copied.
  const OrtFloat32Array = (new ort.Tensor('float32', [0] as unknown as Float32Array, [1]).data as Float32Array)
    .constructor as Float32ArrayConstructor;
  const ortView = (x: Float32Array): Float32Array => {
    const other: Float32Array = x;
    if (other.buffer instanceof SharedArrayBuffer || !(other.buffer instanceof ArrayBuffer))
      return OrtFloat32Array.from(other);
    if (x instanceof OrtFloat32Array) return x;
    return new OrtFloat32Array(other.buffer, other.byteOffset, other.length);
  };

  const threads = options.threads ?? 1;
  if (!(Number.isInteger(threads) && threads >= 1))
    throw new Error(`native gemm: threads must be a positive integer, got ${threads}`);
  const SESSION_OPTIONS = sessionOptions(threads);
  const open = (model: Uint8Array): OrtSession => {
    const session = new native.binding.InferenceSession();
    session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, SESSION_OPTIONS);
    return session;
  };
  const run = (session: OrtSession, feeds: Record<string, OrtTensor>, size: number): Float32Array => {
    const y = session.run(feeds, FETCH_Y, NO_RUN_OPTIONS).Y.data as Float32Array;
    if (y.length !== size) throw new Error(`native gemm: ${y.length} values, expected ${size}`);
    return y;
  };
  const general = new Map<number, OrtSession>(); // by transA + 2·transB

  const gemm: NativeGemm = {
    description: `onnxruntime-node ${version}${threads > 1 ? `, ${threads} threads` : ''}`,
    gemm(a, b, m, k, n, transA, transB) {
      if (a.length !== m * k || b.length !== k * n)
        throw new Error(`native gemm: operands of ${a.length} and ${b.length} values for [${m}×${k}]·[${k}×${n}]`);
      const key = (transA ? 1 : 0) + (transB ? 2 : 0);
      let session = general.get(key);
      if (!session) general.set(key, (session = open(gemmModel(transA, transB))));
      const A = new ort.Tensor('float32', ortView(a), transA ? [k, m] : [m, k]);
      const B = new ort.Tensor('float32', ortView(b), transB ? [n, k] : [k, n]);
      return run(session, { A, B }, m * n);
    },
    withFixedRight(b, k, n, transB) {
      if (b.length !== k * n) throw new Error(`native gemm: a fixed operand of ${b.length} values for [${k}×${n}]`);
      let session: OrtSession | undefined = open(gemmModel(false, transB, { data: b, dims: transB ? [n, k] : [k, n] }));
      return {
        run(a, m) {
          if (!session) throw new Error('native gemm: the product was disposed');
          if (a.length !== m * k) throw new Error(`native gemm: ${a.length} values for [${m}×${k}]`);
          return run(session, { A: new ort.Tensor('float32', ortView(a), [m, k]) }, m * n);
        },
        dispose() {
          session?.dispose();
          session = undefined;
        },
      };
    },
    denseChain(layers, inputTanh) {
      if (layers.length === 0) throw new Error('native gemm: a dense chain needs at least one layer');
      layers.forEach((layer, i) => {
        if (layer.weights.length !== layer.inDim * layer.outDim || layer.bias.length !== layer.outDim)
          throw new Error(
            `native gemm: layer ${i} has ${layer.weights.length} weights and ${layer.bias.length} biases for [${layer.inDim}×${layer.outDim}]`,
          );
        if (i > 0 && layer.inDim !== layers[i - 1].outDim)
          throw new Error(
            `native gemm: layer ${i} takes ${layer.inDim} values, layer ${i - 1} gives ${layers[i - 1].outDim}`,
          );
      });
      const k = layers[0].inDim;
      const n = layers[layers.length - 1].outDim;
      let session: OrtSession | undefined = open(denseChainModel(layers, inputTanh));
      return {
        run(a, m) {
          if (!session) throw new Error('native gemm: the dense chain was disposed');
          if (a.length !== m * k) throw new Error(`native gemm: ${a.length} values for [${m}×${k}]`);
          return run(session, { A: new ort.Tensor('float32', ortView(a), [m, k]) }, m * n);
        },
        dispose() {
          session?.dispose();
          session = undefined;
        },
      };
    },
  };

  // [1 2; 3 4]ᵀ · [5 6]ᵀ-style check of every path this module uses, against plain arithmetic.
  const a = Float32Array.of(1, 2, 3, 4, 5, 6); // [2 × 3]
  const b = Float32Array.of(1, 0, 2, 1, 3, -1); // [3 × 2]
  const expected = [1 * 1 + 2 * 2 + 3 * 3, 1 * 0 + 2 * 1 + 3 * -1, 4 * 1 + 5 * 2 + 6 * 3, 4 * 0 + 5 * 1 + 6 * -1];
  const fixed = gemm.withFixedRight(b, 3, 2, false);
  const got = [gemm.gemm(a, b, 2, 3, 2, false, false), fixed.run(a, 2)];
  fixed.dispose();
  for (const y of got) {
    if (y.length !== 4 || y.some((v, i) => v !== expected[i]))
      throw new Error(`onnxruntime-node computed [${Array.from(y).join(' ')}], expected [${expected.join(' ')}]`);
  }
  return gemm;
}
