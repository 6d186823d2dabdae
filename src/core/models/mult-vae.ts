import type { CsrMatrix } from '../data/csr.js';
import {
  MultinomialAutoencoder,
  resolveHyperparameters,
  type MultinomialFitOptions,
  type MultVaeHyperparameters,
  type Tf,
} from './multinomial-ae.js';
import type { GenerativeModel } from './servable.js';
import {
  createLatentDecoder,
  sampleUsers,
  type SampleUsersOptions,
  type SyntheticUserSample,
} from './synthetic-users.js';

export type { MultVaeHyperparameters, MultinomialFitOptions, TrainingSummary } from './multinomial-ae.js';
export type { SampleUsersOptions, SyntheticUserSample } from './synthetic-users.js';

/** Liang et al. 2018's ML-20M setting, as in `scripts/reference/reference.py`: [I → 600 → 200 → 600 → I]. */
export const MULT_VAE_DEFAULTS: Readonly<MultVaeHyperparameters> = Object.freeze({
  hiddenUnits: [600],
  latentDim: 200,
  epochs: 200,
  batchSize: 500,
  learningRate: 1e-3,
  dropout: 0.5,
  weightDecay: 0,
  annealCap: 0.2,
  totalAnnealSteps: 200000,
  seed: 1,
});

/**
 * Mult-VAE (Liang et al. 2018): variational autoencoder with a multinomial likelihood over
 * items and a KL term annealed linearly to `annealCap` over `totalAnnealSteps` updates; see
 * multinomial-ae.ts for the exact semantics and how training is made fast.
 *
 * @example
 *   const { tf } = await initBackend();
 *   const split = await readSplitFiles('data/ml-1m/split');
 *   const vae = await MultVAE.fit(tf, split.train, { epochs: 200 }, {
 *     validation: split.validation,
 *     onEpoch: (e) => log(`epoch ${e.epoch}: loss ${e.loss} ndcg@100 ${e.validation}`),
 *   });
 *   const scores = vae.reconstruct(split.test.foldIn); // [users × items] logits
 *   const bytes = vae.toBytes(); vae.dispose();
 */
export class MultVAE extends MultinomialAutoencoder implements GenerativeModel {
  readonly generative = true as const;

  declare readonly kind: 'vae';

  /**
   * Trains a Mult-VAE.
   * @param train [users × numItems] histories (every stored entry is an interaction; its value is
   *   the multinomial count x_ui, 1 for implicit feedback)
   * @param hyperparameters overrides of {@link MULT_VAE_DEFAULTS}
   * @param options validation users (best epoch by NDCG@100 is kept), onEpoch, shouldStop
   */
  static async fit(
    tf: Tf,
    train: CsrMatrix,
    hyperparameters: Partial<MultVaeHyperparameters> = {},
    options: MultinomialFitOptions = {},
  ): Promise<MultVAE> {
    const hyper = resolveHyperparameters('MultVAE', MULT_VAE_DEFAULTS, hyperparameters);
    return new MultVAE(tf, await MultinomialAutoencoder.train(tf, 'vae', train, hyper, options));
  }

  /** Loads a model written by {@link MultinomialAutoencoder.toBytes}. */
  static fromBytes(tf: Tf, bytes: Uint8Array): MultVAE {
    return new MultVAE(tf, MultinomialAutoencoder.stateFromBytes(bytes, 'vae'));
  }

  /**
   * Synthetic users from the generative model: z ~ N(0, I) (or `options.latent`), the decoder's logits, then
   * `itemsPerUser` distinct items per user drawn from softmax(logits / temperature) without
   * replacement (Gumbel-top-k), 256 users per decoder pass; reproducible for a seed. See
   * synthetic-users.ts.
   * @returns per user the item columns in draw order (and their probabilities when asked)
   */
  sampleUsers(
    count: number,
    itemsPerUser: number,
    seed: number,
    options: SampleUsersOptions = {},
  ): SyntheticUserSample[] {
    this.live();
    const decoder = createLatentDecoder(this.tf, this.spec, this.weights);
    try {
      return sampleUsers(decoder, count, itemsPerUser, seed, options);
    } finally {
      decoder.dispose();
    }
  }
}
