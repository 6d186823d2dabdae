/**
 * Shared implementation of Mult-VAE and Mult-DAE (Liang, Krishnan, Hoffman, Jebara: "Variational
 * Autoencoders for Collaborative Filtering", WWW 2018, https://arxiv.org/abs/1802.05814), with
 * the semantics of the PyTorch yardstick `scripts/reference/reference.py`:
 *
 * - input: each history row L2-normalised, then input dropout (training only);
 * - encoder [numItems → ...hiddenUnits → latentDim] (VAE: → 2·latentDim = [μ, log σ²]) and decoder
 *   [latentDim → ...reversed hiddenUnits → numItems], tanh after every layer except the VAE's
 *   [μ, log σ²] layer and the decoder's output (logits);
 * - loss per mini-batch: multinomial log-likelihood −mean_u Σ_i x_ui · log softmax(logits_u)_i,
 *   plus for the VAE β · mean_u KL(q(z|x_u) ‖ N(0, I)) with β = min(annealCap, updates /
 *   totalAnnealSteps) (updates done before this one), and z = μ + σ ⊙ ε in training, z = μ at
 *   evaluation;
 * - torch.optim.Adam (lr, β = 0.9/0.999, ε = 1e-8, coupled weight decay); xavier-normal weights,
 *   N(0, 0.001²) biases; the epoch with the best validation NDCG@100 is kept.
 *
 * Values of the history matrices are the multinomial counts x_ui (1 for implicit feedback, as in
 * reference.py); the input is x_u / ‖x_u‖₂.
 *
 * Speed (wasm backend; docs/platform-notes.md, "tfjs"): the training step is written by hand instead of autograd
 * (multinomial-net.ts `lossAndGradients`, checked against autograd in the tests):
 * - the first layer is a sparse "embedding bag": x·W₁ is a segment sum of W₁'s rows over each
 *   row's surviving items, and its gradient a segment sum by item (SparseSegmentSum kernels);
 * - every dense product is a plain non-transposed matMul (the only form wasm hands to XNNPACK;
 *   transposes are explicit), oriented so that the big operands are on the left: XNNPACK repacks
 *   the right operand on every call. Hence the output layer is stored as item vectors
 *   [numItems × (d + 1)] and the logits are computed transposed;
 * - d loss/d logits = softmax(logits)·Σ_i x_ui − x_u (per row, / n) on the device: no
 *   log-softmax pass, only the softmax values at the history's items come back for the loss;
 * - bias gradients come out of the weight-gradient products by appending a row of ones;
 * - tanh = 2σ(2x) − 1 on wasm (XNNPACK's sigmoid; the wasm Tanh kernel is ~6× slower);
 * - Adam runs as one fused JavaScript pass over the master weights (adam.ts);
 * - optionally (`threads` > 1) steps run data-parallel on worker threads (multinomial-workers.ts);
 * - on large catalogs (`softmax`, default from SAMPLED_SOFTMAX_MIN_ITEMS items on) the loss's
 *   softmax is sampled and the step row-sparse (sampled-softmax.ts): the first layer reads and
 *   updates only the batch's input items' rows, the output layer only the candidates'.
 */
import type { CsrMatrix } from '../data/csr.js';
import { shuffledBatches } from '../data/batches.js';
import { Random } from '../data/random.js';
import { activeNativeGemm } from '../engine/backend.js';
import type { FixedRightGemm } from '../engine/native-gemm.js';
import { evaluateRanking } from '../eval/metrics.js';
import { Adam, type AdamConfig } from './adam.js';
import type { Autoencoder, AutoencoderKind, FitOptions } from './autoencoder.js';
import {
  buildSpec,
  InferenceNet,
  initialWeights,
  inputItemsOf,
  lossAndGradients,
  rowsOf,
  sampledRows,
  type LayerSpec,
  type SampledStep,
  type NetSpec,
  type Tf,
} from './multinomial-net.js';
import { GradientWorkers } from './multinomial-workers.js';
import {
  LogUniformProposal,
  SAMPLED_SOFTMAX_SAMPLES,
  sampleCandidates,
  usesSampledSoftmax,
  type SoftmaxOptions,
} from './sampled-softmax.js';
import { sparseRowsFromCsr } from './sparse-input.js';
import { packWeights, readWeightArrays, readWeightsHeader } from './weights-file.js';
import { gemmRowProduct, itemSimilarityScorer } from '../serving/similarity.js';
import { queryMaterial, rowErrors, softmax, type DisposableItemScorer, type ScoreMaterial } from './servable.js';

export type { Tf } from './multinomial-net.js';

/** Hyperparameters shared by Mult-VAE and Mult-DAE (Keras-style names). */
export interface MultinomialAeHyperparameters {
  /** Units of the hidden layers between the input and the latent layer (mirrored in the decoder). */
  hiddenUnits: number[];
  /** Size of the latent code (VAE: of z; DAE: of the bottleneck). */
  latentDim: number;
  /** Passes over the training users. */
  epochs: number;
  /** Users per mini-batch. */
  batchSize: number;
  /** Adam step size. */
  learningRate: number;
  /** Input dropout probability (training only), in [0, 1). */
  dropout: number;
  /** Coupled L2 added to every gradient (torch.optim.Adam's `weight_decay`): g ← g + weightDecay·θ. */
  weightDecay: number;
  /** Seed of the initialisation, the batch order, the dropout masks and the VAE noise. */
  seed: number;
}

/** Mult-VAE hyperparameters: the shared ones plus the KL annealing schedule. */
export interface MultVaeHyperparameters extends MultinomialAeHyperparameters {
  /** Largest KL weight β. */
  annealCap: number;
  /** Updates over which β grows linearly from 0 to 1 (then capped at annealCap). */
  totalAnnealSteps: number;
}

export type MultDaeHyperparameters = MultinomialAeHyperparameters;

/** Fit options: progress callbacks and optional validation users (strong generalization). */
export interface MultinomialFitOptions extends FitOptions {
  /**
   * Validation users: after every epoch the model ranks all items for `foldIn` (fold-in items
   * excluded) and NDCG@100 against `heldOut` is computed; the weights of the best epoch are the
   * ones kept. Without validation the last epoch's weights are kept.
   */
  validation?: { foldIn: CsrMatrix; heldOut: CsrMatrix };
  /**
   * Threads for the training steps (default 1). With k > 1 each mini-batch is split by rows
   * across k worker threads with their own tfjs backend (data parallel, see
   * multinomial-workers.ts); results equal single-threaded training up to floating-point
   * summation order. For the wasm and cpu backends (tfjs-node is multi-threaded by itself).
   * Needs the compiled worker entry (multinomial-worker.js); without it training stays on one
   * thread and `log` says so.
   */
  threads?: number;
  /** Receives notes about how training runs (e.g. a threads fallback, the sampled softmax). */
  log?: (message: string) => void;
  /**
   * The training loss's softmax: 'full' over every item, or 'sampled' (sampled-softmax.ts: each
   * mini-batch scores its own items plus `samples` draws from a log-uniform popularity proposal,
   * logQ-corrected). Default 'auto': sampled from SAMPLED_SOFTMAX_MIN_ITEMS items on. Evaluation
   * (validation, serving) always uses the full softmax.
   */
  softmax?: SoftmaxOptions;
  /**
   * Early stopping (with validation): stop when validation NDCG@100 has not improved for this many
   * epochs; the best epoch's weights are kept either way. Default: no early stopping.
   */
  patience?: number;
  // shouldStop (FitOptions) is checked before each epoch and after each step; when it stops an
  // epoch early, that partial epoch is still validated, reported to onEpoch and may be kept.
}

/** What fitting did. */
export interface TrainingSummary {
  /** Epochs run (fewer than hyperparameters.epochs when shouldStop stopped training). */
  epochs: number;
  /** Optimizer updates (mini-batches) done. */
  steps: number;
  /** Epoch (1-based) whose weights were kept: the best on validation, else the last. */
  keptEpoch: number;
  /** Validation NDCG@100 of the kept epoch (when validation data was given). */
  validationNdcg?: number;
  /** True when training stopped early because validation stopped improving (`patience`). */
  stoppedEarly?: boolean;
  /** Present when training used the sampled softmax: proposal draws per mini-batch. */
  sampledSoftmax?: { samples: number };
}

const MAGIC = 0x3145414d; // "MAE1" little-endian
const FORMAT_VERSION = 1;

/** `given` over `defaults` (undefined values ignored), validated; `name` prefixes error messages. */
export function resolveHyperparameters<H extends MultinomialAeHyperparameters>(
  name: string,
  defaults: Readonly<H>,
  given: Partial<H>,
): H {
  const h = { ...defaults } as H;
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (h as unknown as Record<string, unknown>)[k] = v;
  h.hiddenUnits = [...h.hiddenUnits];
  const positiveInt = (k: string, v: unknown) => {
    if (!(Number.isInteger(v) && (v as number) >= 1))
      throw new Error(`${name}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
  };
  h.hiddenUnits.forEach((u, i) => positiveInt(`hiddenUnits[${i}]`, u));
  positiveInt('latentDim', h.latentDim);
  positiveInt('batchSize', h.batchSize);
  if (!(Number.isInteger(h.epochs) && h.epochs >= 0))
    throw new Error(`${name}: epochs must be a non-negative integer, got ${h.epochs}`);
  if (!(h.learningRate > 0)) throw new Error(`${name}: learningRate must be > 0, got ${h.learningRate}`);
  if (!(h.dropout >= 0 && h.dropout < 1)) throw new Error(`${name}: dropout must be in [0, 1), got ${h.dropout}`);
  if (!(h.weightDecay >= 0)) throw new Error(`${name}: weightDecay must be ≥ 0, got ${h.weightDecay}`);
  if (!Number.isFinite(h.seed)) throw new Error(`${name}: seed must be a finite number, got ${h.seed}`);
  const vae = h as unknown as Partial<MultVaeHyperparameters>;
  if (vae.annealCap !== undefined && !(vae.annealCap >= 0))
    throw new Error(`${name}: annealCap must be ≥ 0, got ${vae.annealCap}`);
  if (vae.totalAnnealSteps !== undefined && !(vae.totalAnnealSteps > 0))
    throw new Error(`${name}: totalAnnealSteps must be > 0, got ${vae.totalAnnealSteps}`);
  return h;
}

/**
 * The training loop's state: master weights, Adam, the step count and the random streams. Steps
 * run on this thread, or on a {@link GradientWorkers} pool (then the master weights are the
 * pool's shared arrays).
 */
class Trainer {
  /** Updates done (drives the KL annealing and Adam's bias correction). */
  updates = 0;
  /** Master weights (the pool's shared arrays when training on workers). */
  readonly weights: Float32Array[];
  private readonly adam?: Adam;
  private readonly dropoutRng: Random;
  private readonly noiseRng: Random;
  /** Sampled softmax: candidates scored over all steps so far (for the log). */
  candidatesScored = 0;
  /** Sampled softmax: the proposal, its random stream and the draws per batch (else undefined). */
  private readonly sampled?: { proposal: LogUniformProposal; rng: Random; samples: number };

  constructor(
    private readonly tf: Tf,
    private readonly spec: NetSpec,
    weights: Float32Array[],
    private readonly hyper: MultinomialAeHyperparameters,
    rng: Random,
    private readonly pool?: GradientWorkers,
    sampledSoftmax?: { proposal: LogUniformProposal; samples: number },
  ) {
    this.weights = pool ? pool.weights : weights;
    if (!pool)
      this.adam = new Adam(
        weights.map((w) => w.length),
        adamConfig(hyper),
      );
    this.dropoutRng = new Random(rng.nextUint32());
    this.noiseRng = new Random(rng.nextUint32());
    // Drawn after the other streams: full-softmax training is unchanged by this option.
    if (sampledSoftmax) this.sampled = { ...sampledSoftmax, rng: new Random(rng.nextUint32()) };
  }

  /** KL weight of the next update: min(annealCap, updates / totalAnnealSteps). */
  beta(): number {
    if (!this.spec.variational) return 0;
    const h = this.hyper as MultVaeHyperparameters;
    return Math.min(h.annealCap, this.updates / h.totalAnnealSteps);
  }

  /**
   * One Adam update on the rows `rowIds` of `train`.
   * @returns the mini-batch loss (negative multinomial log-likelihood + β·KL, means over rows)
   */
  async step(train: CsrMatrix, rowIds: Int32Array): Promise<number> {
    const dropRng = this.dropoutRng;
    const x = sparseRowsFromCsr(train, rowIds, this.hyper.dropout, () => dropRng.uniform());
    const eps = this.spec.variational
      ? this.noiseRng.fillNormal(new Float32Array(rowIds.length * this.spec.latentDim))
      : undefined;
    const beta = this.beta();
    const sampled = this.sampled;
    const sampledStep: SampledStep | undefined = sampled && {
      candidates: sampleCandidates(sampled.proposal, train, rowIds, sampled.samples, sampled.rng),
      inputItems: inputItemsOf(x),
    };
    this.updates++;
    if (sampledStep) this.candidatesScored += sampledStep.candidates.items.length;
    if (this.pool) return this.pool.step(x, rowIds, eps, beta, this.updates, sampledStep);
    const { loss, grads } = lossAndGradients(
      this.tf,
      this.spec,
      this.weights,
      x,
      { csr: train, rowIds },
      eps,
      beta,
      sampledStep,
    );
    const rows = sampledStep ? sampledRows(this.spec, sampledStep) : [];
    this.adam!.nextStep();
    for (let l = 0; l < grads.length; l++) {
      const r = rows[l];
      if (r) this.adam!.updateRows(l, this.weights[l], grads[l], r, this.weights[l].length / rowsOf(this.spec, l));
      else this.adam!.update(l, this.weights[l], grads[l]);
    }
    return loss;
  }
}

function adamConfig(hyper: MultinomialAeHyperparameters): AdamConfig {
  return { learningRate: hyper.learningRate, weightDecay: hyper.weightDecay };
}

/** Constructor state of {@link MultinomialAutoencoder}. */
export interface MultinomialState {
  spec: NetSpec;
  hyper: MultinomialAeHyperparameters;
  weights: Float32Array[];
  summary?: TrainingSummary;
}

/**
 * Mult-VAE / Mult-DAE model: weights, evaluation-mode inference and serialization. Created by
 * `MultVAE.fit` / `MultDAE.fit` (or `fromBytes`). Holds its weights both as Float32Arrays and
 * as tensors (created once, freed by {@link dispose}).
 */
export class MultinomialAutoencoder implements Autoencoder {
  readonly kind: AutoencoderKind;
  readonly numItems: number;
  readonly latentDim: number;
  readonly itemVectorDim: number;
  readonly hyperparameters: Record<string, unknown>;
  readonly scoreUnit = 'probability' as const;
  readonly itemScorerUsesCooccurrence = true;
  /** Training outcome (absent for models loaded from bytes written without one). */
  readonly summary?: TrainingSummary;

  protected readonly tf: Tf;
  protected readonly spec: NetSpec;
  protected readonly weights: Float32Array[];
  private net: InferenceNet | undefined;
  /** The output layer transposed, as a tensor, for {@link scoreQueries} (made on first use). */
  private itemVectorTensor: ReturnType<Tf['tensor2d']> | undefined;
  /** Or, where the native GEMM loaded, the output layer packed for it (made on first use). */
  private itemVectorProduct: FixedRightGemm | undefined;

  protected constructor(tf: Tf, state: MultinomialState) {
    this.tf = tf;
    this.spec = state.spec;
    this.weights = state.weights;
    this.kind = state.spec.kind;
    this.numItems = state.spec.numItems;
    this.latentDim = state.spec.latentDim;
    this.itemVectorDim = state.spec.layers[state.spec.layers.length - 1].inDim + 1;
    this.hyperparameters = { ...state.hyper, hiddenUnits: [...state.hyper.hiddenUnits] };
    this.summary = state.summary;
    this.net = new InferenceNet(tf, state.spec, state.weights);
  }

  /**
   * Trains a network of `kind` on `train` (rows = users, columns = items; every stored entry is
   * an interaction, its value the weight x_ui, 1 for implicit feedback).
   * @returns the constructor state of the trained model (best validation epoch's weights)
   */
  protected static async train(
    tf: Tf,
    kind: 'vae' | 'dae',
    train: CsrMatrix,
    hyper: MultinomialAeHyperparameters,
    options: MultinomialFitOptions,
  ): Promise<MultinomialState> {
    const name = kind === 'vae' ? 'MultVAE.fit' : 'MultDAE.fit';
    if (train.numRows === 0 || train.numCols === 0)
      throw new Error(`${name}: empty training matrix (${train.numRows} × ${train.numCols})`);
    const { validation } = options;
    if (validation && (validation.foldIn.numCols !== train.numCols || validation.heldOut.numCols !== train.numCols)) {
      throw new Error(`${name}: validation matrices must have ${train.numCols} columns`);
    }
    const spec = buildSpec(kind, train.numCols, hyper.hiddenUnits, hyper.latentDim);
    const root = new Random(hyper.seed);
    const weights = initialWeights(spec, new Random(root.nextUint32()));
    const shuffleRng = new Random(root.nextUint32());
    const threads = options.threads ?? 1;
    if (!(Number.isInteger(threads) && threads >= 1))
      throw new Error(`${name}: threads must be a positive integer, got ${threads}`);
    let pool: GradientWorkers | undefined;
    if (threads > 1) {
      pool = await GradientWorkers.start(tf, threads, spec, train, weights, adamConfig(hyper));
      if (!pool)
        options.log?.(
          `${name}: worker entry multinomial-worker.js not found next to the compiled module; training on one thread`,
        );
    }
    let sampledSoftmax: { proposal: LogUniformProposal; samples: number } | undefined;
    if (usesSampledSoftmax(train.numCols, options.softmax)) {
      const samples = options.softmax?.samples ?? SAMPLED_SOFTMAX_SAMPLES;
      if (!(Number.isInteger(samples) && samples >= 1))
        throw new Error(`${name}: softmax.samples must be a positive integer, got ${samples}`);
      sampledSoftmax = { proposal: LogUniformProposal.fromTraining(train), samples };
      options.log?.(
        `${name}: sampled softmax over ${train.numCols} items (each batch's items + ${samples} log-uniform draws)`,
      );
    }
    try {
      const trainer = new Trainer(tf, spec, weights, hyper, new Random(root.nextUint32()), pool, sampledSoftmax);
      const state = await MultinomialAutoencoder.loop(tf, spec, train, hyper, options, shuffleRng, trainer);
      if (sampledSoftmax && state.summary) {
        state.summary.sampledSoftmax = { samples: sampledSoftmax.samples };
        const mean = trainer.candidatesScored / Math.max(trainer.updates, 1);
        options.log?.(
          `${name}: the sampled softmax scored ${Math.round(mean)} items per batch on average (${((100 * mean) / train.numCols).toFixed(1)} % of ${train.numCols})`,
        );
      }
      return state;
    } finally {
      await pool?.close();
    }
  }

  private static async loop(
    tf: Tf,
    spec: NetSpec,
    train: CsrMatrix,
    hyper: MultinomialAeHyperparameters,
    options: MultinomialFitOptions,
    shuffleRng: Random,
    trainer: Trainer,
  ): Promise<MultinomialState> {
    const { validation } = options;
    const weights = trainer.weights;

    let best: Float32Array[] | undefined;
    let bestNdcg = -Infinity;
    let keptEpoch = 0;
    let epoch = 0;
    let stopped = false;
    let stoppedEarly = false;
    const patience = options.patience;
    if (patience !== undefined && !(Number.isInteger(patience) && patience >= 1))
      throw new Error(`patience must be a positive integer, got ${patience}`);
    while (epoch < hyper.epochs && !stopped) {
      if (options.shouldStop?.()) break;
      epoch++;
      const batches = shuffledBatches(train.numRows, hyper.batchSize, shuffleRng);
      const started = performance.now();
      let lossSum = 0;
      let steps = 0;
      for (const batch of batches) {
        lossSum += await trainer.step(train, batch);
        steps++;
        if (options.shouldStop?.()) {
          stopped = true;
          break;
        }
        await new Promise<void>((resolve) => setImmediate(resolve)); // let timers, I/O and signals run
      }
      const seconds = (performance.now() - started) / 1000;
      let ndcg: number | undefined;
      if (validation) {
        const net = new InferenceNet(tf, spec, weights);
        try {
          ndcg = evaluateRanking((h) => net.run(h, 'logits'), validation.foldIn, validation.heldOut, { ks: [100] })[
            'ndcg@100'
          ];
        } finally {
          net.dispose();
        }
        if (ndcg > bestNdcg) {
          bestNdcg = ndcg;
          keptEpoch = epoch;
          best = weights.map((w) => w.slice());
        }
      } else {
        keptEpoch = epoch;
      }
      options.onEpoch?.({ epoch, epochs: hyper.epochs, loss: lossSum / steps, validation: ndcg, seconds });
      if (validation && patience !== undefined && epoch - keptEpoch >= patience && epoch < hyper.epochs) {
        stoppedEarly = true;
        break;
      }
    }
    return {
      spec,
      hyper,
      weights: best ?? weights.map((w) => w.slice()), // slice: plain (not shared) arrays
      summary: {
        epochs: epoch,
        steps: trainer.updates,
        keptEpoch,
        validationNdcg: best ? bestNdcg : undefined,
        ...(stoppedEarly ? { stoppedEarly } : {}),
      },
    };
  }

  protected live(): InferenceNet {
    if (!this.net) throw new Error(`${this.spec.kind}: the model was disposed`);
    return this.net;
  }

  /**
   * User vectors: the encoder mean μ (VAE) or the bottleneck activation (DAE), evaluation mode.
   * @param histories [rows × numItems] (values = interaction weights, 1 for implicit feedback)
   * @returns [rows × latentDim] row-major
   */
  encode(histories: CsrMatrix): Float32Array {
    return this.live().run(histories, 'encode');
  }

  /**
   * Logits of every item for each history (evaluation mode: no dropout, z = μ); softmax is
   * monotone, so they rank items like the predicted multinomial probabilities.
   * @returns [rows × numItems] row-major
   */
  reconstruct(histories: CsrMatrix): Float32Array {
    return this.live().run(histories, 'logits');
  }

  /**
   * Item vectors [numItems × itemVectorDim]: row i = [W_out[:, i], b_out[i]] (the output layer's
   * weights into item i and its bias), so that reconstruct(u)[i] = userQueries(u) · itemVector_i.
   */
  itemVectors(): Float32Array {
    this.live();
    return this.weights[this.weights.length - 1].slice(); // the output layer's own layout
  }

  /**
   * The encoder's input-layer weights per item: row i = W₁[i, ·], what item i adds to the first
   * layer's pre-activation of a history that contains it (before the history's L2 normalisation).
   * dim = the first layer's width (hiddenUnits[0], or latentDim for the DAE without hidden layers;
   * 2·latentDim = [μ, log σ²] for a VAE without hidden layers). A copy.
   * @returns vectors [numItems × dim] row-major
   */
  inputItemVectors(): { vectors: Float32Array; dim: number } {
    this.live();
    const dim = this.spec.layers[0].outDim;
    return { vectors: this.weights[0].slice(0, this.numItems * dim), dim }; // [W₁; b₁]: W₁ first
  }

  /**
   * User queries [rows × itemVectorDim]: [h_u, 1] with h_u the output layer's input in
   * evaluation mode (VAE: tanh(d₁(μ)) …; DAE: the bottleneck activation).
   */
  userQueries(histories: CsrMatrix): Float32Array {
    const net = this.live();
    const h = net.run(histories, 'queries');
    const d = net.width('queries');
    const out = new Float32Array(histories.numRows * (d + 1));
    for (let r = 0; r < histories.numRows; r++) {
      out.set(h.subarray(r * d, (r + 1) * d), r * (d + 1));
      out[r * (d + 1) + d] = 1;
    }
    return out;
  }

  scoreQueries(queries: Float32Array, rows: number): Float32Array {
    this.live();
    const tf = this.tf;
    const D = this.itemVectorDim;
    if (queries.length !== rows * D)
      throw new Error(`scoreQueries: ${queries.length} values for ${rows} queries of dimension ${D}`);
    // Native GEMM (backend.ts): queries · Vᵀ against the item vectors packed once, about 3× the
    // wasm product's speed for a serving batch (docs/platform-notes.md, "Native GEMM").
    const gemm = this.tf.getBackend() === 'wasm' ? activeNativeGemm() : undefined;
    if (gemm) {
      this.itemVectorProduct ??= gemm.withFixedRight(this.weights[this.weights.length - 1], D, this.numItems, true);
      return this.itemVectorProduct.run(queries, rows);
    }
    // The output layer transposed to [D × numItems], held as one tensor: tfjs-wasm's matMul with
    // transposeB is ≈ 10× slower than on a transposed copy (17 queries × 3,706 items: 16 vs 1.4 ms).
    if (!this.itemVectorTensor) {
      const v = this.weights[this.weights.length - 1];
      const n = this.numItems;
      const vt = new Float32Array(n * D);
      for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) vt[d * n + i] = v[i * D + d];
      this.itemVectorTensor = tf.tensor2d(vt, [D, n]);
    }
    const itemsT = this.itemVectorTensor;
    const t = tf.tidy(() => tf.matMul(tf.tensor2d(queries, [rows, D]), itemsT));
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out.buffer.byteLength === out.byteLength ? out : Float32Array.from(out);
  }

  /**
   * Serialized model: magic "MAE1", format version, header length (u32 LE each), a JSON header
   * (kind, numItems, layer shapes, hyperparameters, training summary), zero padding to 4 bytes,
   * then each layer's float32 LE weights: hidden layers [(inDim + 1) × outDim] (bias = last row),
   * the output layer [numItems × (inDim + 1)] (the item vectors: bias = last column).
   */
  toBytes(): Uint8Array {
    this.live();
    const { spec } = this;
    const header = {
      kind: spec.kind,
      numItems: spec.numItems,
      latentDim: spec.latentDim,
      variational: spec.variational,
      encoderDepth: spec.encoderDepth,
      layers: spec.layers,
      hyperparameters: this.hyperparameters,
      summary: this.summary,
    };
    return packWeights(MAGIC, FORMAT_VERSION, header, this.weights);
  }

  /** Parses {@link toBytes} output; `kind` must match. */
  protected static stateFromBytes(bytes: Uint8Array, kind: 'vae' | 'dae'): MultinomialState {
    const name = kind === 'vae' ? 'MultVAE.fromBytes' : 'MultDAE.fromBytes';
    const { header, dataOffset } = readWeightsHeader<{
      kind: AutoencoderKind;
      numItems: number;
      latentDim: number;
      variational: boolean;
      encoderDepth: number;
      layers: LayerSpec[];
      hyperparameters: MultinomialAeHyperparameters;
      summary?: TrainingSummary;
    }>(bytes, MAGIC, FORMAT_VERSION, name, 'not a Mult-VAE/DAE model');
    if (header.kind !== kind) throw new Error(`${name}: the bytes hold a '${header.kind}' model`);
    const spec = buildSpec(kind, header.numItems, header.hyperparameters.hiddenUnits, header.latentDim);
    if (JSON.stringify(spec.layers) !== JSON.stringify(header.layers))
      throw new Error(`${name}: layer shapes do not match the hyperparameters`);
    const weights = readWeightArrays(
      bytes,
      dataOffset,
      spec.layers.map((layer) => (layer.inDim + 1) * layer.outDim),
      name,
    );
    return { spec, hyper: header.hyperparameters, weights, summary: header.summary };
  }

  /** The model gives its own user and item vectors. */
  get factor(): this {
    return this;
  }

  /** The logits (they rank like the multinomial probabilities). */
  score(histories: CsrMatrix): Float32Array {
    return this.reconstruct(histories);
  }

  /** Queries [h_u, 1] for the inner-product index; with `exact`, every item's score too ({@link queryMaterial}). */
  scoreMaterial(histories: CsrMatrix, exact = false): ScoreMaterial {
    return queryMaterial(this, histories, exact);
  }

  /** Mean negative log-likelihood of each history's items under its reconstructed multinomial. */
  reconstructionErrors(histories: CsrMatrix): Float64Array {
    const logits = this.reconstruct(histories);
    const n = this.numItems;
    return rowErrors(histories, (r) => multinomialNll(histories, r, logits.subarray(r * n, (r + 1) * n)));
  }

  /** Predicted multinomial probabilities (softmax of the logits) and the history's error. */
  reconstructInUnit(history: CsrMatrix): { values: Float32Array; error: number } {
    const logits = this.reconstruct(history);
    const empty = history.indptr[1] === history.indptr[0];
    return { values: softmax(logits), error: empty ? Number.NaN : multinomialNll(history, 0, logits) };
  }

  /**
   * ½ cosine of [encoder input row, decoder W_i] + ½ co-occurrence cosine (docs/similarity.md:
   * 1.018× / 1.010× genre precision on ML-1M for DAE / VAE); the model's part alone without
   * `interactions`.
   */
  itemScorer(interactions: CsrMatrix | null): DisposableItemScorer | null {
    const autoencoder = {
      itemVectors: this.itemVectors(),
      itemVectorDim: this.itemVectorDim,
      inputItemVectors: this.inputItemVectors(),
    };
    // The cosine part's products on the native GEMM where it is loaded (backend.ts): all-pairs
    // lists of 10⁵ items take minutes there, hours in plain JavaScript.
    const gemm = this.tf.getBackend() === 'wasm' ? activeNativeGemm() : undefined;
    return itemSimilarityScorer(
      { numItems: this.numItems, autoencoder, interactions: interactions ?? undefined },
      { blockSize: 16, product: gemm ? gemmRowProduct(gemm) : undefined },
    );
  }

  /** Frees the tensors; the model is unusable afterwards. Idempotent. */
  dispose(): void {
    this.net?.dispose();
    this.net = undefined;
    this.itemVectorTensor?.dispose();
    this.itemVectorTensor = undefined;
    this.itemVectorProduct?.dispose();
    this.itemVectorProduct = undefined;
  }
}

/** −Σ x_i log softmax(z)_i / Σ x_i over row `row` of the histories, with z its logits. */
function multinomialNll(histories: CsrMatrix, row: number, logits: Float32Array): number {
  const lo = histories.indptr[row];
  const hi = histories.indptr[row + 1];
  if (hi === lo) return Number.NaN;
  // log softmax(z)_i = z_i − logsumexp(z)
  let max = -Infinity;
  for (const x of logits) if (x > max) max = x;
  let sum = 0;
  for (const x of logits) sum += Math.exp(x - max);
  const lse = max + Math.log(sum);
  let nll = 0;
  let weight = 0;
  for (let k = lo; k < hi; k++) {
    nll -= histories.values[k] * (logits[histories.indices[k]] - lse);
    weight += histories.values[k];
  }
  return nll / weight;
}
