import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadNativeGemm, type NativeGemm } from './native-gemm.js';
import { NATIVE_MATMUL_MIN_MACS, registerWasmKernels, useNativeMatMul } from './wasm-kernels.js';

/** A tfjs backend Recoder can run on: tfjs-node (native TensorFlow), wasm (XNNPACK) or pure-JS cpu. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** What {@link initBackend} chose. `tf` is the tfjs namespace the backend was set on. */
export interface EngineBackend {
  name: BackendName;
  tf: typeof tf;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /**
   * 'auto' (default): tfjs-node if it loads and works, else wasm, else cpu (with a warning).
   * 'node' | 'wasm' | 'cpu': that backend or an Error saying why it is unavailable.
   */
  prefer?: 'node' | 'wasm' | 'cpu' | 'auto';
  /** Receives exactly one line naming the chosen backend (and why faster ones were skipped). */
  log?: (message: string) => void;
  /**
   * Loads @tensorflow/tfjs-node (default: a dynamic import of the package). For tests and
   * bundlers; the module must register the 'tensorflow' backend when loaded.
   */
  importTfjsNode?: () => Promise<unknown>;
  /**
   * Keep tfjs' own console warnings (e.g. its "install tfjs-node" banner). Default false: tfjs is
   * put in production mode, which only silences its warnings.
   */
  tfjsWarnings?: boolean;
  /**
   * On the wasm backend: 'auto' (default) runs large matMuls on ONNX Runtime's native GEMM
   * (native-gemm.ts) when the optional onnxruntime-node loads, 'off' keeps them on XNNPACK.
   * Only the first initialisation's setting counts.
   */
  native?: 'auto' | 'off';
  /** Threads per native product (LoadNativeGemmOptions.threads; default 1). */
  nativeThreads?: number;
  /** For tests: where onnxruntime-node is resolved from (see LoadNativeGemmOptions). */
  nativeResolveFrom?: string;
}

const BACKEND_OF: Record<'node' | 'wasm' | 'cpu', BackendName> = { node: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

let current: Promise<EngineBackend> | undefined;
let currentPrefer: InitBackendOptions['prefer'];

/**
 * Selects and initialises the tfjs backend once per process.
 *
 * Order for 'auto': tfjs-node (the optional dependency @tensorflow/tfjs-node; skipped when it is
 * not installed, fails to load its native library, or fails a tiny op), then wasm
 * (@tensorflow/tfjs-backend-wasm, its .wasm binaries read from the package's dist folder), then
 * the pure-JS cpu backend, about 100× slower. On wasm Recoder's JS kernels are registered too
 * (UnsortedSegmentSum, so tf.gather has a gradient there).
 *
 * Idempotent: later calls return the same backend without logging again (concurrent calls share
 * one initialisation). A later call with a different explicit `prefer` throws. If an explicit
 * `prefer` fails, nothing is cached and another backend may be requested.
 *
 * @throws Error naming the backend and the cause when an explicit `prefer` cannot be used
 * @example
 *   const { tf, name } = await initBackend({ log: (m) => logger.log(m) });
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<EngineBackend> {
  const prefer = options.prefer ?? 'auto';
  if (current) {
    const chosen = await current;
    if (prefer !== 'auto' && BACKEND_OF[prefer] !== chosen.name) {
      throw new Error(
        `initBackend: the tfjs backend is already '${chosen.name}' (initialised with prefer '${currentPrefer}'); cannot switch to '${prefer}'`,
      );
    }
    return chosen;
  }
  currentPrefer = prefer;
  current = select(prefer, options);
  try {
    return await current;
  } catch (error) {
    current = undefined;
    currentPrefer = undefined;
    throw error;
  }
}

async function select(
  prefer: NonNullable<InitBackendOptions['prefer']>,
  options: InitBackendOptions,
): Promise<EngineBackend> {
  if (!options.tfjsWarnings) tf.enableProdMode();
  const log = options.log ?? (() => undefined);
  const done = (name: BackendName, note: string): EngineBackend => {
    log(`tfjs backend: ${name}${note}`);
    return { name, tf };
  };
  if (prefer === 'node') {
    await tryNode(options);
    return done('tensorflow', ' (tfjs-node, native TensorFlow)');
  }
  if (prefer === 'wasm') {
    return done('wasm', (await tryWasm()) + nativeNote(options));
  }
  if (prefer === 'cpu') {
    await useBackend('cpu');
    return done('cpu', ' (pure JavaScript, ~100× slower than tfjs-node or wasm; requested explicitly)');
  }
  const skipped: string[] = [];
  try {
    await tryNode(options);
    return done('tensorflow', ' (tfjs-node, native TensorFlow)');
  } catch (error) {
    skipped.push(`tfjs-node: ${reason(error)}`);
  }
  try {
    const note = await tryWasm();
    return done('wasm', `${note}${nativeNote(options)}; skipped ${skipped.join('; ')}`);
  } catch (error) {
    skipped.push(`wasm: ${reason(error)}`);
  }
  await useBackend('cpu');
  return done('cpu', ` — WARNING: pure JavaScript, ~100× slower than tfjs-node or wasm; skipped ${skipped.join('; ')}`);
}

let nativeGemm: NativeGemm | undefined;

/**
 * Loads the native GEMM for the wasm backend (unless `native` is 'off') and routes large matMuls
 * to it; returns the log line's note either way. Must run after the wasm backend initialised.
 */
function nativeNote(options: InitBackendOptions): string {
  if (options.native === 'off') return '; native GEMM off';
  try {
    nativeGemm = loadNativeGemm({ resolveFrom: options.nativeResolveFrom, threads: options.nativeThreads });
  } catch (error) {
    return `; native GEMM unavailable (${reason(error)})`;
  }
  useNativeMatMul(nativeGemm);
  // A product large enough to take the native route, through the tfjs kernel (heap views and all).
  const side = Math.ceil(Math.cbrt(NATIVE_MATMUL_MIN_MACS));
  const got = tf.tidy(() => tf.matMul(tf.ones([side, side]), tf.fill([side, side], 2)).dataSync());
  if (got.length !== side * side || got.some((v) => v !== 2 * side)) {
    useNativeMatMul(undefined);
    nativeGemm = undefined;
    return '; native GEMM failed its check (a wrong product through the wasm kernel), not used';
  }
  return `; large matMuls on native GEMM (${nativeGemm.description})`;
}

/**
 * The native GEMM this thread's wasm backend loaded, if any: models use it directly for products
 * against fixed weights (scoring), and worker threads that start their own backend pass
 * `native: activeNativeGemm() ? 'auto' : 'off'` to compute like their parent.
 */
export function activeNativeGemm(): NativeGemm | undefined {
  return nativeGemm;
}

/** Loads tfjs-node and checks that it computes; throws with the cause otherwise. */
async function tryNode(options: InitBackendOptions): Promise<void> {
  try {
    if (options.importTfjsNode) {
      await options.importTfjsNode();
    } else {
      const specifier = '@tensorflow/tfjs-node'; // a variable: the package is optional and may be absent
      await import(specifier);
    }
  } catch (error) {
    // Only the package itself missing counts as "not installed"; a missing file inside it (e.g.
    // lib/napi-v8/tfjs_binding.node when the install script could not fetch libtensorflow) is a
    // broken install.
    const notInstalled = /Cannot find (module|package) '@tensorflow\/tfjs-node'/.test(reason(error));
    throw new Error(
      notInstalled
        ? '@tensorflow/tfjs-node is not installed (it is an optional dependency whose install downloads libtensorflow)'
        : `@tensorflow/tfjs-node failed to load (native library?): ${reason(error)}`,
      { cause: error },
    );
  }
  // (findBackendFactory, not findBackend: the latter starts initialising the backend.)
  if (!tf.findBackendFactory('tensorflow')) {
    throw new Error(
      '@tensorflow/tfjs-node loaded but registered no "tensorflow" backend with this @tensorflow/tfjs (version mismatch?)',
    );
  }
  try {
    await useBackend('tensorflow');
    smokeTest('tensorflow');
  } catch (error) {
    if (tf.findBackendFactory('tensorflow')) tf.removeBackend('tensorflow'); // keep a broken backend out of tfjs' automatic choice
    throw error;
  }
}

/** Initialises the wasm backend; returns a note for the log line. */
async function tryWasm(): Promise<string> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
    // The .wasm binaries sit next to the package's Node entry point (dist/). Setting the prefix
    // explicitly keeps this working when the code is bundled or run under a test runner.
    const req = createRequire(import.meta.url);
    const dist = path.dirname(req.resolve('@tensorflow/tfjs-backend-wasm'));
    // Must precede the backend's initialisation (tf.findBackend('wasm') would start it).
    wasm.setWasmPaths(dist + path.sep);
  } catch (error) {
    throw new Error(`@tensorflow/tfjs-backend-wasm could not be loaded: ${reason(error)}`, { cause: error });
  }
  registerWasmKernels();
  await useBackend('wasm');
  smokeTest('wasm');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  return ` (WebAssembly${simd ? ' SIMD' : ', no SIMD'}, ${wasm.getThreadsCount()} thread${wasm.getThreadsCount() === 1 ? '' : 's'})`;
}

async function useBackend(name: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (error) {
    throw new Error(`tfjs backend '${name}' failed to initialise: ${reason(error)}`, { cause: error });
  }
  if (!ok || tf.getBackend() !== name) throw new Error(`tfjs backend '${name}' failed to initialise`);
  await tf.ready();
}

/** A tiny op whose result is checked: catches backends that register but cannot compute. */
function smokeTest(name: string): void {
  let value: number | undefined;
  try {
    value = tf.tidy(() => tf.matMul(tf.tensor2d([1, 2], [1, 2]), tf.tensor2d([3, 4], [2, 1])).dataSync()[0]);
  } catch (error) {
    throw new Error(`tfjs backend '${name}' failed a test op: ${reason(error)}`, { cause: error });
  }
  if (value !== 11) throw new Error(`tfjs backend '${name}' computed [1 2]·[3 4]ᵀ = ${value}, expected 11`);
}

function reason(error: unknown): string {
  const message =
    error instanceof Error
      ? error.message
      : typeof error === 'object' && error && 'message' in error
        ? String(error.message)
        : String(error);
  return message.split('\n')[0];
}
