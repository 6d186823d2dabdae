/**
 * Sampled softmax for the Mult-VAE / Mult-DAE multinomial likelihood on large catalogs.
 *
 * The full loss of a user u is −Σ_i x_ui · (z_ui − log Z_u) with Z_u = Σ_i exp(z_ui) over EVERY
 * item: its forward and backward passes cost O(batch · items · d) (three [batch × items] products
 * per step), which at 10⁵ items makes an epoch take hours on one core. Here each mini-batch scores
 * only a candidate set C of items (Bengio & Senécal 2008, "Adaptive importance sampling to
 * accelerate training of a neural probabilistic language model"; Jean et al. 2015, "On using very
 * large target vocabulary for neural machine translation"):
 *
 * - B = every item in the batch's histories (all the positives of all its users) is scored
 *   exactly;
 * - the rest of the catalog is represented by m draws s₁ … s_m (with replacement) from a proposal
 *   q; a drawn item j ∉ B, drawn c_j times, gets the importance weight w_j = c_j / (m · q_j);
 * - Ẑ_u = Σ_{i∈B} exp(z_ui) + Σ_{j∈C∖B} w_j · exp(z_uj) = Σ_{j∈C} exp(z_uj + log w_j) (w = 1 on B)
 *   is an unbiased estimate of Z_u: E[Σ_k 1[s_k ∉ B] exp(z_{s_k}) / (m q_{s_k})] = Σ_{i∉B} exp(z_i).
 *
 * So the sampled loss is the ordinary softmax over C of the corrected logits z + log w (the "logQ
 * correction"), and its gradient has the same form as the full one on C and zero elsewhere:
 * d loss / d z_uj = softmax_C(z_u + log w)_j · Σ_i x_ui − x_uj. It is consistent (it converges to
 * the full softmax as m grows) and exact when C covers the catalog. The output layer's products
 * shrink from [batch × items] to [batch × |C|].
 *
 * The proposal is log-uniform over the items' popularity rank in the training data (rank r,
 * 0-based: q = log((r + 2) / (r + 1)) / log(items + 1), TensorFlow's `log_uniform_candidate_sampler`
 * over frequency-sorted ids): popular items, the hard negatives of a popularity-skewed catalog,
 * are drawn often, and every item has a positive probability.
 */
import type { CsrMatrix } from '../data/csr.js';
import type { Random } from '../data/random.js';

/**
 * Catalog size from which Mult-VAE / Mult-DAE training uses the sampled softmax by default
 * (`softmax: 'auto'`). Below it the full softmax is cheap enough (ML-1M's 3.7k items: the output
 * layer is most of a 0.3 s step); above it the full softmax's cost grows with every item
 * (docs/benchmarks.md, "Sampled softmax").
 */
export const SAMPLED_SOFTMAX_MIN_ITEMS = 20_000;

/** Default proposal draws per mini-batch (m). */
export const SAMPLED_SOFTMAX_SAMPLES = 2048;

/** Which softmax a training run uses: 'auto' = sampled from {@link SAMPLED_SOFTMAX_MIN_ITEMS} items on. */
export type SoftmaxMode = 'auto' | 'full' | 'sampled';

/** How the output softmax is computed during training (a fit option). */
export interface SoftmaxOptions {
  /** Default 'auto'. */
  mode?: SoftmaxMode;
  /** Proposal draws per mini-batch (default {@link SAMPLED_SOFTMAX_SAMPLES}). */
  samples?: number;
}

/** Whether training on `numItems` items samples the softmax, for these options. */
export function usesSampledSoftmax(numItems: number, options: SoftmaxOptions = {}): boolean {
  const mode = options.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'full' && mode !== 'sampled')
    throw new Error(`softmax mode must be 'auto', 'full' or 'sampled', got ${JSON.stringify(mode)}`);
  return mode === 'sampled' || (mode === 'auto' && numItems >= SAMPLED_SOFTMAX_MIN_ITEMS);
}

/** The items one mini-batch scores, with the log importance weight of each. */
export interface SoftmaxCandidates {
  /** [|C|] candidate items, ascending. */
  readonly items: Int32Array;
  /** [|C|] log w_j: 0 for the batch's own items, log(c_j / (m · q_j)) for sampled ones. */
  readonly logWeights: Float32Array;
}

/** Log-uniform proposal over popularity rank; see the module comment. */
export class LogUniformProposal {
  /** byRank[r] = the item of popularity rank r (most interactions first, ties by id). */
  private readonly byRank: Int32Array;
  /** probability[i] = q_i. */
  readonly probability: Float64Array;
  private readonly logRange: number;

  /** @param popularity [numItems] interactions per item in the training data */
  constructor(popularity: ArrayLike<number>) {
    const n = popularity.length;
    if (n === 0) throw new Error('LogUniformProposal: no items');
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => popularity[b] - popularity[a] || a - b);
    this.byRank = Int32Array.from(order);
    this.logRange = Math.log(n + 1);
    this.probability = new Float64Array(n);
    for (let r = 0; r < n; r++) this.probability[order[r]] = Math.log((r + 2) / (r + 1)) / this.logRange;
  }

  /** Proposal of a training matrix's columns (popularity = stored entries per column). */
  static fromTraining(train: CsrMatrix): LogUniformProposal {
    const counts = new Float64Array(train.numCols);
    const nnz = train.indptr[train.numRows];
    for (let p = 0; p < nnz; p++) counts[train.indices[p]]++;
    return new LogUniformProposal(counts);
  }

  get numItems(): number {
    return this.byRank.length;
  }

  /** One draw: rank ⌊exp(u · log(n + 1))⌋ − 1 for u uniform in [0, 1), i.e. P(r) = q of rank r. */
  draw(uniform: number): number {
    const r = Math.min(Math.floor(Math.exp(uniform * this.logRange)) - 1, this.byRank.length - 1);
    return this.byRank[Math.max(r, 0)];
  }
}

/**
 * The candidate set of a mini-batch: every item of the batch's rows of `target`, plus `samples`
 * draws from `proposal` with their importance weights (see the module comment).
 *
 * @param target the histories the loss predicts; the batch is its rows `rowIds`
 * @param samples m, the number of proposal draws
 */
export function sampleCandidates(
  proposal: LogUniformProposal,
  target: CsrMatrix,
  rowIds: ArrayLike<number>,
  samples: number,
  rng: Random,
): SoftmaxCandidates {
  const n = proposal.numItems;
  if (target.numCols !== n) throw new Error(`sampleCandidates: ${target.numCols} columns for ${n} proposal items`);
  if (!(Number.isInteger(samples) && samples >= 1))
    throw new Error(`sampleCandidates: samples must be a positive integer, got ${samples}`);
  // mark: 0 = not a candidate, -1 = in the batch, k > 0 = drawn k times.
  const mark = new Int32Array(n);
  for (let r = 0; r < rowIds.length; r++) {
    const u = rowIds[r];
    for (let p = target.indptr[u]; p < target.indptr[u + 1]; p++) mark[target.indices[p]] = -1;
  }
  for (let k = 0; k < samples; k++) {
    const j = proposal.draw(rng.uniform());
    if (mark[j] >= 0) mark[j]++;
  }
  let size = 0;
  for (let i = 0; i < n; i++) if (mark[i] !== 0) size++;
  const items = new Int32Array(size);
  const logWeights = new Float32Array(size);
  const q = proposal.probability;
  for (let i = 0, c = 0; i < n; i++) {
    if (mark[i] === 0) continue;
    items[c] = i;
    logWeights[c] = mark[i] < 0 ? 0 : Math.log(mark[i] / (samples * q[i]));
    c++;
  }
  return { items, logWeights };
}
