/**
 * The Mult-VAE / Mult-DAE network (see multinomial-ae.ts for the model): layer shapes, weight
 * layouts, initialisation, evaluation-mode inference, and the hand-written training step
 * {@link lossAndGradients}. No training loop and no state: shared by the model (main thread) and
 * the data-parallel gradient workers (multinomial-worker.ts).
 */
import type * as tfjs from '@tensorflow/tfjs';
import type { CsrMatrix } from '../data/csr.js';
import { activeNativeGemm } from '../engine/backend.js';
import type { DenseLayer, FixedRightGemm } from '../engine/native-gemm.js';
import { nativeMatMulActive } from '../engine/wasm-kernels.js';
import type { Random } from '../data/random.js';
import type { AutoencoderKind } from './autoencoder.js';
import type { SoftmaxCandidates } from './sampled-softmax.js';
import {
  sparseMatMul,
  sparseRowsFromCsr,
  sparseTransposeMatMulWithColumnSums,
  type SparseRows,
} from './sparse-input.js';

/** The tfjs namespace the model runs on (`initBackend().tf`). */
export type Tf = typeof tfjs;
type Tensor2D = tfjs.Tensor2D;
type Tensor1D = tfjs.Tensor1D;

/** One dense layer: y = act(x·W + b) (weight layouts: see below). */
export interface LayerSpec {
  inDim: number;
  outDim: number;
  tanh: boolean;
}

/** Network shape: layers 0 … encoderDepth−1 are the encoder, the rest the decoder. */
export interface NetSpec {
  kind: AutoencoderKind;
  variational: boolean;
  numItems: number;
  latentDim: number;
  layers: LayerSpec[];
  encoderDepth: number;
}

/** Rows per tfjs forward pass in encode / reconstruct / userQueries / validation. */
const EVAL_ROWS = 500;

/** Layer shapes of a Mult-VAE ('vae') or Mult-DAE ('dae'). Exported for tests. */
export function buildSpec(
  kind: 'vae' | 'dae',
  numItems: number,
  hiddenUnits: readonly number[],
  latentDim: number,
): NetSpec {
  const variational = kind === 'vae';
  const enc = [numItems, ...hiddenUnits, variational ? 2 * latentDim : latentDim];
  const dec = [latentDim, ...[...hiddenUnits].reverse(), numItems];
  const layers: LayerSpec[] = [];
  for (let l = 0; l + 1 < enc.length; l++)
    layers.push({ inDim: enc[l], outDim: enc[l + 1], tanh: !(variational && l + 2 === enc.length) });
  for (let l = 0; l + 1 < dec.length; l++) layers.push({ inDim: dec[l], outDim: dec[l + 1], tanh: l + 2 < dec.length });
  return { kind, variational, numItems, latentDim, layers, encoderDepth: enc.length - 1 };
}

/** tanh; on wasm as 2σ(2x) − 1 (XNNPACK's sigmoid; wasm's own Tanh kernel is ~6× slower). */
function tanh(tf: Tf, x: Tensor2D): Tensor2D {
  if (tf.getBackend() !== 'wasm') return tf.tanh(x);
  return tf.tidy(() => tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1));
}

/*
 * Weight layouts (master copies, Float32Array per layer):
 * - hidden layers: [(inDim + 1) × outDim], W on top, bias b as the last row: x·W + b = [x, 1]·[W; b];
 * - the output layer: [numItems × (inDim + 1)], row i = [W[:, i], b_i], i.e. the item vectors
 *   (PyTorch's Linear layout plus a bias column). This way every big product of the output layer
 *   has the SMALL matrix as its right operand, which wasm/XNNPACK repacks on every call (packing
 *   a fresh 2.2 M-value right operand costs ~20–30 ms per product), and Adam updates the layout
 *   the products use (no per-step transpose of the biggest matrix).
 */

/** Weights W [inDim × outDim] of a hidden layer's [(inDim + 1) × outDim] array (a view). */
function weightsOf(layer: LayerSpec, w: Float32Array): Float32Array {
  return w.subarray(0, layer.inDim * layer.outDim);
}
/** Bias b [outDim] of a hidden layer's array (a view). */
function biasOf(layer: LayerSpec, w: Float32Array): Float32Array {
  return w.subarray(layer.inDim * layer.outDim);
}

/**
 * Xavier-normal weights and N(0, 0.001²) biases (torch.nn.init.xavier_normal_ / normal_(0, 0.001)),
 * in the layouts above. Exported for tests.
 */
export function initialWeights(spec: NetSpec, rng: Random): Float32Array[] {
  const last = spec.layers.length - 1;
  return spec.layers.map((layer, l) => {
    const w = new Float32Array((layer.inDim + 1) * layer.outDim);
    const std = Math.sqrt(2 / (layer.inDim + layer.outDim));
    if (l < last) {
      rng.fillNormal(weightsOf(layer, w), 0, std);
      rng.fillNormal(biasOf(layer, w), 0, 0.001);
    } else {
      const d1 = layer.inDim + 1;
      for (let i = 0; i < layer.outDim; i++) {
        for (let k = 0; k < layer.inDim; k++) w[i * d1 + k] = rng.normal(0, std);
      }
      for (let i = 0; i < layer.outDim; i++) w[i * d1 + layer.inDim] = rng.normal(0, 0.001);
    }
    return w;
  });
}

/** The output layer's W [inDim × numItems] and b [numItems] from its item-vector layout. */
function outputWeightsAndBias(layer: LayerSpec, v: Float32Array): [Float32Array, Float32Array] {
  const d = layer.inDim;
  const n = layer.outDim;
  const w = new Float32Array(d * n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * (d + 1);
    for (let k = 0; k < d; k++) w[k * n + i] = v[row + k];
    b[i] = v[row + d];
  }
  return [w, b];
}

export type EvalOutput = 'encode' | 'queries' | 'logits';

/**
 * Weights as tensors for evaluation-mode forward passes (no dropout, z = μ). Owns its tensors
 * until {@link dispose}; every pass is tidied, so the tensor count is the same before and after.
 */
export class InferenceNet {
  private readonly w: Tensor2D[];
  private readonly b: Tensor1D[];
  /** Per output: the layers after the first as one native graph ({@link nativeChain}); null: none. */
  private readonly chains = new Map<EvalOutput, FixedRightGemm | null>();

  constructor(
    private readonly tf: Tf,
    private readonly spec: NetSpec,
    weights: readonly Float32Array[],
  ) {
    // Persistent tensors: on wasm, XNNPACK packs each right operand once and caches it.
    const last = spec.layers.length - 1;
    this.w = [];
    this.b = [];
    spec.layers.forEach((layer, l) => {
      const [w, b] =
        l < last ? [weightsOf(layer, weights[l]), biasOf(layer, weights[l])] : outputWeightsAndBias(layer, weights[l]);
      this.w.push(tf.tensor2d(w, [layer.inDim, layer.outDim]));
      this.b.push(tf.tensor1d(b));
    });
  }

  /** Output width per row of {@link run}. */
  width(output: EvalOutput): number {
    const { spec } = this;
    if (output === 'encode') return spec.latentDim;
    if (output === 'queries') return spec.layers[spec.layers.length - 1].inDim;
    return spec.numItems;
  }

  /**
   * Evaluation-mode forward pass over all rows of `histories`, EVAL_ROWS at a time.
   * @returns [rows × width(output)] row-major: the encoder mean / bottleneck ('encode'), the
   *   output layer's input ('queries') or the logits ('logits')
   */
  run(histories: CsrMatrix, output: EvalOutput): Float32Array {
    const { tf, spec } = this;
    if (histories.numCols !== spec.numItems)
      throw new Error(`${spec.kind}: histories have ${histories.numCols} columns, the model ${spec.numItems} items`);
    const width = this.width(output);
    const out = new Float32Array(histories.numRows * width);
    const chain = this.nativeChain(output);
    for (let start = 0; start < histories.numRows; start += EVAL_ROWS) {
      const rowIds = new Int32Array(Math.min(EVAL_ROWS, histories.numRows - start));
      for (let k = 0; k < rowIds.length; k++) rowIds[k] = start + k;
      const x = sparseRowsFromCsr(histories, rowIds);
      // Download outside tidy: tidy scans what its callback returns for tensors to keep, and
      // walking a returned [rows × numItems] Float32Array element by element took ~5 s per 500
      // ML-1M users (50× the forward pass itself).
      const result = tf.tidy(() =>
        chain ? (tf.add(sparseMatMul(tf, x, this.w[0]), this.b[0]) as Tensor2D) : this.forward(x, output),
      );
      try {
        const values = result.dataSync() as Float32Array;
        out.set(chain ? chain.run(values, rowIds.length) : values, start * width);
      } finally {
        result.dispose();
      }
    }
    return out;
  }

  /**
   * Where the native GEMM is loaded (wasm backend): the user vectors' and queries' layers after the
   * sparse first one (its tanh, the dense layers, a VAE's μ half of its encoder output) as one
   * ONNX Runtime graph with its weights packed once. tfjs-wasm runs these small products on
   * XNNPACK one op at a time, about 45 µs a row for ML-1M's Mult-VAE in a serving batch.
   * Null for the logits (the output layer is the scoring product, see scoreQueries) and for nets
   * whose first layer is also the last before the output.
   */
  private nativeChain(output: EvalOutput): FixedRightGemm | null {
    if (output === 'logits') return null;
    let chain = this.chains.get(output);
    if (chain !== undefined) return chain;
    chain = null;
    const { tf, spec } = this;
    const gemm = tf.getBackend() === 'wasm' ? activeNativeGemm() : undefined;
    // Layers 1 … end; a VAE's encoder output (layer encoderDepth − 1) cut to μ, its first half.
    const end = output === 'encode' ? spec.encoderDepth - 1 : spec.layers.length - 2;
    const mu = spec.encoderDepth - 1;
    if (gemm && end >= 1 && (!spec.variational || mu >= 1)) {
      const layers: DenseLayer[] = [];
      for (let l = 1; l <= end; l++) {
        const { inDim, outDim, tanh } = spec.layers[l];
        const w = this.w[l].dataSync() as Float32Array;
        const b = this.b[l].dataSync() as Float32Array;
        if (spec.variational && l === mu) {
          const cut = new Float32Array(inDim * spec.latentDim);
          for (let r = 0; r < inDim; r++)
            cut.set(w.subarray(r * outDim, r * outDim + spec.latentDim), r * spec.latentDim);
          layers.push({ weights: cut, bias: b.slice(0, spec.latentDim), inDim, outDim: spec.latentDim, tanh });
        } else {
          layers.push({ weights: w, bias: b, inDim, outDim, tanh });
        }
      }
      chain = gemm.denseChain(layers, spec.layers[0].tanh);
    }
    this.chains.set(output, chain);
    return chain;
  }

  private forward(x: SparseRows, output: EvalOutput): Tensor2D {
    const { tf, spec } = this;
    const n = x.numRows;
    const last = spec.layers.length - 1;
    let h = tf.add(sparseMatMul(tf, x, this.w[0]), this.b[0]) as Tensor2D;
    if (spec.layers[0].tanh) h = tanh(tf, h);
    for (let l = 1; l <= last; l++) {
      if (l === spec.encoderDepth) {
        if (spec.variational) h = tf.slice(h, [0, 0], [n, spec.latentDim]);
        if (output === 'encode') return h;
      }
      if (l === last && output === 'queries') return h;
      h = tf.fused.matMul({ a: h, b: this.w[l], bias: this.b[l] }) as Tensor2D;
      if (spec.layers[l].tanh) h = tanh(tf, h);
    }
    return h;
  }

  dispose(): void {
    this.tf.dispose([...this.w, ...this.b]);
    for (const chain of this.chains.values()) chain?.dispose();
    this.chains.clear();
  }
}

/** A row-sparse training step: the sampled softmax's candidates and the first layer's rows in use. */
export interface SampledStep {
  candidates: SoftmaxCandidates;
  /** [k] ascending items whose first-layer rows the step reads: at least every column of x. */
  inputItems: Int32Array;
}

/** The ascending distinct columns of sparse rows `x` (the `inputItems` of a {@link SampledStep}). */
export function inputItemsOf(x: SparseRows): Int32Array {
  const seen = new Uint8Array(x.numCols);
  let count = 0;
  for (let k = 0; k < x.colIds.length; k++) {
    if (!seen[x.colIds[k]]) {
      seen[x.colIds[k]] = 1;
      count++;
    }
  }
  const items = new Int32Array(count);
  for (let i = 0, c = 0; i < x.numCols; i++) if (seen[i]) items[c++] = i;
  return items;
}

/** Rows of layer l's weight array: inDim + 1 for hidden layers, numItems for the output layer. */
export function rowsOf(spec: NetSpec, l: number): number {
  const layer = spec.layers[l];
  return l === spec.layers.length - 1 ? layer.outDim : layer.inDim + 1;
}

/**
 * The weight rows a {@link SampledStep}'s gradients cover, per layer (undefined = every row):
 * layer 0 (layout [(numItems + 1) × outDim]): the input items' rows, then the bias row numItems;
 * the output layer (layout [numItems × (inDim + 1)]): the candidates.
 */
export function sampledRows(spec: NetSpec, step: SampledStep): (Int32Array | undefined)[] {
  const rows: (Int32Array | undefined)[] = spec.layers.map(() => undefined);
  const first = new Int32Array(step.inputItems.length + 1);
  first.set(step.inputItems);
  first[step.inputItems.length] = spec.numItems;
  rows[0] = first;
  rows[spec.layers.length - 1] = step.candidates.items;
  return rows;
}

/**
 * Mini-batch loss and its gradients, by hand (no autograd tape): the forward pass in training
 * mode on already-dropped-out input `x`, then the backward pass.
 *
 * Exported for tests (they compare it with tfjs autograd on the dense formulation).
 *
 * @param x [n × numItems] the network's input rows (normalised, dropout applied)
 * @param target the rows' raw histories: row r of the batch is `target.csr` row `target.rowIds[r]`
 * @param eps [n × latentDim] N(0, 1) noise of the VAE's reparameterisation (ignored for the DAE)
 * @param beta KL weight
 * @param sampled when given, a row-sparse step with the sampled softmax (sampled-softmax.ts): the
 *   logits, the softmax and the output layer's gradient cover only `candidates.items` (each logit
 *   corrected by its log importance weight; they must include every item of the batch's target
 *   rows), and the first layer reads only the rows `inputItems` (which must include every column
 *   of x). The gradients of those two layers are then returned for the rows of
 *   {@link sampledRows} only (zero elsewhere).
 * @returns loss = mean_u NLL_u + β·mean_u KL_u; grads[l] = d loss / d (layer l's weights), in
 *   the layer's layout (hidden: [(inDim + 1) × outDim]; output: [numItems × (inDim + 1)]), or
 *   with `sampled`, for layers 0 and L − 1, only the rows {@link sampledRows} lists, in its order
 */
export function lossAndGradients(
  tf: Tf,
  spec: NetSpec,
  weights: readonly Float32Array[],
  x: SparseRows,
  target: { csr: CsrMatrix; rowIds: ArrayLike<number> },
  eps: Float32Array | undefined,
  beta: number,
  sampled?: SampledStep,
): { loss: number; grads: Float32Array[] } {
  const layers = spec.layers;
  const L = layers.length;
  const n = x.numRows;
  const I = spec.numItems;
  const Z = spec.latentDim;
  const { csr, rowIds } = target;
  if (rowIds.length !== n) throw new Error(`lossAndGradients: ${rowIds.length} target rows for ${n} input rows`);
  if (spec.variational && (!eps || eps.length !== n * Z))
    throw new Error(`lossAndGradients: eps must hold ${n} × ${Z} values`);
  const grads: Float32Array[] = new Array(L);
  let loss = 0;
  // Whether matMuls with transposed operands run as fast as plain ones (else: transpose first).
  const flags = tf.getBackend() !== 'wasm' || nativeMatMulActive();
  const out = layers[L - 1];
  const d = out.inDim;

  tf.tidy(() => {
    const W: Tensor2D[] = [];
    const bias: Tensor1D[] = [];
    for (let l = 0; l < L - 1; l++) {
      if (l === 0 && sampled) {
        // Only the first layer's rows of the items in x, with x's columns renumbered to match.
        const rows = sampled.inputItems;
        W.push(tf.tensor2d(gatherRows(weights[0], layers[0].outDim, rows), [rows.length, layers[0].outDim]));
        x = renumberColumns(x, columnsOf(rows, I), rows.length);
      } else {
        W.push(tf.tensor2d(weightsOf(layers[l], weights[l]), [layers[l].inDim, layers[l].outDim]));
      }
      bias.push(tf.tensor1d(biasOf(layers[l], weights[l])));
    }
    // Item vectors [W_outᵀ | b_out] of the items the softmax covers: all, or the candidates'.
    const candidates = sampled?.candidates;
    const C = candidates ? candidates.items.length : I;
    const V = tf.tensor2d(candidates ? gatherRows(weights[L - 1], d + 1, candidates.items) : weights[L - 1], [
      C,
      d + 1,
    ]);
    // column of each item in the logits (sampled: -1 for items outside the candidates)
    const column = candidates ? columnsOf(candidates.items, I) : undefined;
    const onesRow = tf.ones([1, n]);

    // Forward. inputs[l] = the activation layer l reads (l ≥ 1).
    const inputs: Tensor2D[] = new Array(L);
    let h = tf.add(sparseMatMul(tf, x, W[0]), bias[0]) as Tensor2D;
    if (layers[0].tanh) h = tanh(tf, h);
    let mu: Tensor2D | undefined;
    let std: Tensor2D | undefined;
    let epsT: Tensor2D | undefined;
    for (let l = 1; l < L; l++) {
      if (spec.variational && l === spec.encoderDepth) {
        mu = tf.slice(h, [0, 0], [n, Z]);
        const logvar = tf.slice(h, [0, Z], [n, Z]);
        std = tf.exp(tf.mul(logvar, 0.5));
        epsT = tf.tensor2d(eps!, [n, Z]);
        h = tf.add(mu, tf.mul(std, epsT));
        // KL = mean_u Σ_j ½(−log σ² + σ² + μ² − 1)
        const kl = (tf.sum(tf.sub(tf.add(tf.square(std), tf.square(mu)), tf.add(logvar, 1))).dataSync()[0] * 0.5) / n;
        loss += beta * kl;
      }
      inputs[l] = h;
      if (l < L - 1) {
        h = tf.fused.matMul({ a: h, b: W[l], bias: bias[l] }) as Tensor2D;
        if (layers[l].tanh) h = tanh(tf, h);
      }
    }

    // Output layer. With transposed operands computed in place (native GEMM, tfjs-node):
    // logits = [h, 1]·Vᵀ. On plain wasm: logitsᵀ = V·[h, 1]ᵀ (the small [h, 1]ᵀ is the right
    // operand), then logits.
    const a = inputs[L - 1];
    const aAug = flags ? tf.concat([a, tf.transpose(onesRow)], 1) : undefined; // [n × (d + 1)]
    const aAugT = flags ? undefined : tf.concat([tf.transpose(a), onesRow], 0); // [(d + 1) × n]
    let logits = (flags ? tf.matMul(aAug!, V, false, true) : tf.transpose(tf.matMul(V, aAugT!))) as Tensor2D;
    if (candidates) logits = tf.add(logits, tf.tensor2d(candidates.logWeights, [1, C]));

    // d loss / d logits = (softmax(logits) · Σ_i x_ui − x_u) / n, on the device; only the
    // softmax values at the history's items come back, for the NLL −Σ_i x_ui · log softmax_ui.
    let nnz = 0;
    for (let r = 0; r < n; r++) nnz += csr.indptr[rowIds[r] + 1] - csr.indptr[rowIds[r]];
    const at = new Int32Array(2 * nnz); // (row, item) pairs
    const xs = new Float32Array(nnz);
    const scale = new Float32Array(n);
    for (let r = 0, k = 0; r < n; r++) {
      const u = rowIds[r];
      let total = 0;
      for (let p = csr.indptr[u]; p < csr.indptr[u + 1]; p++, k++) {
        at[2 * k] = r;
        const item = csr.indices[p];
        const col = column ? column[item] : item;
        if (col < 0) throw new Error(`lossAndGradients: target item ${item} is not among the softmax candidates`);
        at[2 * k + 1] = col;
        xs[k] = csr.values[p];
        total += csr.values[p];
      }
      scale[r] = total / n;
    }
    const sm = tf.softmax(logits);
    let dl = tf.mul(sm, tf.tensor2d(scale, [n, 1])) as Tensor2D;
    if (nnz > 0) {
      const atT = tf.tensor2d(at, [nnz, 2], 'int32');
      const picked = tf.gatherND(sm, atT).dataSync();
      let nll = 0;
      for (let k = 0; k < nnz; k++) nll -= xs[k] * Math.log(Math.max(picked[k], 1e-45));
      loss += nll / n;
      dl = tf.sub(dl, tf.scatterND(atT, tf.div(tf.tensor1d(xs), n), [n, C]));
    }
    // Backward: dV = dlᵀ·[h, 1] and d[h, 1] = dl·V. Appending ones to a layer's input gives the
    // bias gradient in the same product. On plain wasm: plain matMuls only, transposes explicit,
    // big left operands (d[h, 1]ᵀ = Vᵀ·dlᵀ: measured 260 → 170 ms against dl·V, whose right
    // operand V is big).
    let dIn: Tensor2D;
    if (flags) {
      grads[L - 1] = tf.matMul(dl, aAug!, true, false).dataSync() as Float32Array;
      dIn = tf.slice(tf.matMul(dl, V), [0, 0], [n, d]) as Tensor2D;
    } else {
      const dlTt = tf.transpose(dl); // [C × n]
      grads[L - 1] = tf.matMul(dlTt, tf.transpose(aAugT!)).dataSync() as Float32Array;
      dIn = tf.transpose(tf.slice(tf.matMul(tf.transpose(V), dlTt), [0, 0], [d, n])) as Tensor2D;
    }
    let dOut: Tensor2D = dIn; // d loss / d (pre-activation of layer l − 1), set in each iteration
    for (let l = L - 1; l >= 1; l--) {
      if (l < L - 1) {
        grads[l] = (
          flags
            ? tf.matMul(tf.concat([inputs[l], tf.transpose(onesRow)], 1), dOut, true, false)
            : tf.matMul(tf.concat([tf.transpose(inputs[l]), onesRow], 0), dOut)
        ).dataSync() as Float32Array;
        dIn = (flags ? tf.matMul(dOut, W[l], false, true) : tf.matMul(dOut, tf.transpose(W[l]))) as Tensor2D;
      }
      if (spec.variational && l === spec.encoderDepth) {
        // z = μ + σ ⊙ ε: dμ = dz + β/n·μ;  d log σ² = ½ dz ⊙ ε ⊙ σ + β/(2n)·(σ² − 1).
        const dMu = tf.add(dIn, tf.mul(mu!, beta / n)) as Tensor2D;
        const dLogvar = tf.add(
          tf.mul(tf.mul(dIn, epsT!), tf.mul(std!, 0.5)),
          tf.mul(tf.sub(tf.square(std!), 1), beta / (2 * n)),
        ) as Tensor2D;
        dOut = tf.concat([dMu, dLogvar], 1);
      } else {
        dOut = layers[l - 1].tanh ? (tf.mul(dIn, tf.sub(1, tf.square(inputs[l]))) as Tensor2D) : dIn;
      }
    }
    grads[0] = sparseTransposeMatMulWithColumnSums(tf, x, dOut).dataSync() as Float32Array;
  });
  return { loss, grads };
}

/** Rows `rows` of a row-major [? × width] array, in that order: [rows.length × width]. */
function gatherRows(m: Float32Array, width: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let k = 0; k < rows.length; k++) out.set(m.subarray(rows[k] * width, (rows[k] + 1) * width), k * width);
  return out;
}

/** `x` with column c renamed column[c] (which must be ≥ 0) in a matrix of `numCols` columns. */
function renumberColumns(x: SparseRows, column: Int32Array, numCols: number): SparseRows {
  const colIds = new Int32Array(x.colIds.length);
  for (let k = 0; k < colIds.length; k++) {
    colIds[k] = column[x.colIds[k]];
    if (colIds[k] < 0) throw new Error(`lossAndGradients: input item ${x.colIds[k]} is not among inputItems`);
  }
  return { ...x, numCols, colIds };
}

/** [numItems] position of each item in `items`, −1 when absent. */
function columnsOf(items: Int32Array, numItems: number): Int32Array {
  const column = new Int32Array(numItems).fill(-1);
  for (let k = 0; k < items.length; k++) column[items[k]] = k;
  return column;
}
