import type { CsrMatrix } from '../data/csr.js';
import {
  MultinomialAutoencoder,
  resolveHyperparameters,
  type MultDaeHyperparameters,
  type MultinomialFitOptions,
  type Tf,
} from './multinomial-ae.js';

export type { MultDaeHyperparameters, MultinomialFitOptions, TrainingSummary } from './multinomial-ae.js';

/**
 * Defaults as in `scripts/reference/reference.py`: [I → 200 → I], tanh, input dropout 0.5, Adam lr 1e-3 with
 * weight decay 0.01 / batchSize (when `weightDecay` is not given it is computed from the
 * batchSize in use).
 */
export const MULT_DAE_DEFAULTS: Readonly<Omit<MultDaeHyperparameters, 'weightDecay'>> = Object.freeze({
  hiddenUnits: [],
  latentDim: 200,
  epochs: 200,
  batchSize: 500,
  learningRate: 1e-3,
  dropout: 0.5,
  seed: 1,
});

/**
 * Mult-DAE (Liang et al. 2018): denoising autoencoder (input dropout) with a multinomial
 * likelihood over items; see multinomial-ae.ts for the exact semantics.
 *
 * @example
 *   const dae = await MultDAE.fit(tf, split.train, {}, { validation: split.validation });
 *   const users = dae.encode(histories); // [rows × 200] bottleneck activations
 */
export class MultDAE extends MultinomialAutoencoder {
  declare readonly kind: 'dae';

  /**
   * Trains a Mult-DAE.
   * @param train [users × numItems] histories (values = multinomial counts, 1 for implicit feedback)
   * @param hyperparameters overrides of {@link MULT_DAE_DEFAULTS} (weightDecay default 0.01 / batchSize)
   * @param options validation users (best epoch by NDCG@100 is kept), onEpoch, shouldStop
   */
  static async fit(
    tf: Tf,
    train: CsrMatrix,
    hyperparameters: Partial<MultDaeHyperparameters> = {},
    options: MultinomialFitOptions = {},
  ): Promise<MultDAE> {
    const batchSize = hyperparameters.batchSize ?? MULT_DAE_DEFAULTS.batchSize;
    const defaults: MultDaeHyperparameters = { ...MULT_DAE_DEFAULTS, weightDecay: 0.01 / batchSize };
    const hyper = resolveHyperparameters('MultDAE', defaults, hyperparameters);
    return new MultDAE(tf, await MultinomialAutoencoder.train(tf, 'dae', train, hyper, options));
  }

  /** Loads a model written by {@link MultinomialAutoencoder.toBytes}. */
  static fromBytes(tf: Tf, bytes: Uint8Array): MultDAE {
    return new MultDAE(tf, MultinomialAutoencoder.stateFromBytes(bytes, 'dae'));
  }
}
