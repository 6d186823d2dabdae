/**
 * AUTO: choose the model for the data instead of asking the user to know which model, epochs and
 * λ suit it. Every candidate is trained on the same training users and scored on the same
 * held-out validation users (strong generalization, NDCG@100); the best one is kept:
 *
 * 1. EASE over a λ grid, searched on a log scale (factor 2) from λ = 250 in the improving
 *    direction, then refined once by factor √2 around the best (at most 8 fits; the best λ is
 *    ≈ 100 on ml-latest-small, 500–1,000 on ML-1M); then EDLAE (EASE with dropout p, Steck 2020:
 *    popular items regularised more) for p ∈ {0.25, 0.5} (0.67 when 0.5 was better) at
 *    λ*·(1 − p)², and, when a p > 0 won, λ walked again at that p (halving first, then doubling),
 *    at most 14 fits in all (ML-1M: λ 1,000 → λ 250–500 at p 0.33–0.5, test NDCG@100
 *    0.4859 → 0.4914 in the reference measurement of docs/training.md);
 * 2. Mult-DAE and 3. Mult-VAE with budgets that fit the data ({@link planTraining}: batch size and
 *    epochs from the number of users, early stopping on validation NDCG@100, best epoch kept);
 * 4. the standardised-score blend α·z(EASE) + (1 − α)·z(best autoencoder), α ∈ {0, 0.05, …, 1}
 *    chosen on the same validation users, served as an {@link Ensemble};
 * 5. when both autoencoders trained, the three-way blend of EASE, Mult-DAE and Mult-VAE, its
 *    weights searched on the simplex ({@link simplexSearch}: a 0.1 grid, then steps of 0.05 while
 *    validation NDCG@100 improves).
 *
 * Ties go to the ensemble (it ranks as well and also serves embeddings). A time budget bounds the
 * search: a candidate that would start after it is skipped, an autoencoder still training when it
 * runs out stops and keeps its best epoch; every candidate's outcome is reported.
 */
import type { CsrMatrix } from '../data/csr.js';
import { evaluateRanking, type RankingMetrics } from '../eval/metrics.js';
import type { EpochReport } from './autoencoder.js';
import { planTraining } from './budget.js';
import type { Ease } from './ease.js';
import { accumulateWeighted, Ensemble, type EnsembleMemberModel } from './ensemble.js';
import { MultDAE } from './mult-dae.js';
import type { Tf } from './multinomial-ae.js';
import { MultVAE } from './mult-vae.js';
import { standardizeRows } from './score-blend.js';

export type AutoCandidateKind = 'ease' | 'dae' | 'vae' | 'ensemble';

/** One candidate of the search and what happened to it. */
export interface AutoCandidate {
  /** e.g. "EASE λ=500", "Mult-DAE", "EASE λ=500 + Mult-DAE" */
  name: string;
  kind: AutoCandidateKind;
  /** TRAINED, STOPPED (by the time budget: best epoch so far kept), SKIPPED (never trained), FAILED. */
  status: 'TRAINED' | 'STOPPED' | 'SKIPPED' | 'FAILED';
  /** Validation NDCG@100 (null when not trained). */
  ndcg: number | null;
  /** Settings that define it (λ, epochs run, batch size, blend weight...). */
  settings: Record<string, unknown>;
  seconds: number;
  /** Why it was skipped or stopped, or failed. */
  reason?: string;
  /** Set on the candidate that was kept. */
  chosen?: boolean;
}

/** Thrown when `shouldStop` asked the search to stop (cancellation): nothing is kept. */
export class AutoSearchStopped extends Error {
  constructor() {
    super('the AUTO search was stopped');
    this.name = 'AutoSearchStopped';
  }
}

export interface AutoSelectOptions {
  /** Seconds the whole search may take; candidates that would start after it are skipped. */
  budgetSeconds: number;
  seed?: number;
  /** Largest epochs of the autoencoders (default: planTraining's, from the number of users). */
  epochs?: number;
  /** Fixed EASE λ (no grid search, plain EASE: dropout 0). */
  lambda?: number;
  /** Catalogs larger than this leave EASE (and the blend) out: its dense n × n inverse would not fit. */
  maxEaseItems: number;
  /**
   * Fits EASE with λ on `train`, reporting progress in [0, 1] and honouring stop requests (it may
   * throw when `shouldStop` returns true). The caller can cache the Gram matrix across λ.
   */
  fitEase: (
    lambda: number,
    hooks: { onProgress: (fraction: number) => void; shouldStop: () => boolean },
    dropout?: number,
  ) => Promise<Ease>;
  /** Settings for both autoencoders (e.g. latentDim, hiddenUnits, learningRate); batch size and epochs come from the plan. */
  autoencoderSettings?: { latentDim?: number; hiddenUnits?: number[]; learningRate?: number; dropout?: number };
  /** Which autoencoders to try (default both). */
  autoencoders?: readonly ('dae' | 'vae')[];
  /** Training threads for the autoencoders (see MultinomialFitOptions.threads). */
  threads?: number;
  /** Overall progress in [0, 1] and the candidate in work. */
  onProgress?: (fraction: number, stage: string) => void;
  /** Each autoencoder epoch, with the candidate it belongs to. */
  onEpoch?: (candidate: string, report: EpochReport) => void;
  /** Each candidate when its outcome is known. */
  onCandidate?: (candidate: AutoCandidate) => void;
  /** Cancellation: checked between steps; the search throws {@link AutoSearchStopped}. */
  shouldStop?: () => boolean;
  log?: (message: string) => void;
  /** Clock in seconds (tests). */
  now?: () => number;
}

export interface AutoSelection {
  /** The kept model: EASE, an autoencoder, or an ensemble of EASE and an autoencoder. */
  model: EnsembleMemberModel | Ensemble;
  kind: AutoCandidateKind;
  /** Validation metrics of the kept model (ndcg@k, recall@k, …). */
  metrics: RankingMetrics;
  candidates: AutoCandidate[];
}

/** Progress shares of the stages (EASE grid, each autoencoder, blend). */
const SHARES = { ease: 0.3, ae: 0.3, blend: 0.1 };
const LAMBDA_START = 250;
const LAMBDA_FACTOR = 2;
const MAX_LAMBDA_FITS = 8;
const MAX_EASE_FITS = 14;
const DROPOUTS = [0.25, 0.5];
const EXTRA_DROPOUT = 0.67;
const BLEND_STEPS = 20;

/**
 * Trains the candidates on `train`, scores them on `validation`, and returns the best.
 * @param train [users × items] training histories (implicit, values 1)
 * @param validation held-out users: `foldIn` given to the models, `heldOut` to predict
 */
export async function autoSelect(
  tf: Tf,
  train: CsrMatrix,
  validation: { foldIn: CsrMatrix; heldOut: CsrMatrix },
  o: AutoSelectOptions,
): Promise<AutoSelection> {
  const now = o.now ?? (() => performance.now() / 1000);
  const started = now();
  const elapsed = () => now() - started;
  const overBudget = () => elapsed() >= o.budgetSeconds;
  const stop = () => o.shouldStop?.() === true;
  const checkStop = () => {
    if (stop()) throw new AutoSearchStopped();
  };
  const candidates: AutoCandidate[] = [];
  const report = (c: AutoCandidate) => {
    candidates.push(c);
    o.onCandidate?.(c);
    o.log?.(
      `AUTO candidate ${c.name}: ${c.status}${c.ndcg !== null ? ` ndcg@100 ${c.ndcg.toFixed(4)}` : ''}${c.reason ? ` (${c.reason})` : ''} in ${c.seconds.toFixed(1)} s`,
    );
  };
  const aeKinds = o.autoencoders ?? ['dae', 'vae'];
  const stageShares = { ease: SHARES.ease, ae: aeKinds.length ? SHARES.ae : 0, blend: SHARES.blend };
  const total = stageShares.ease + stageShares.ae * aeKinds.length + stageShares.blend;
  let base = 0;
  const progress = (share: number, fraction: number, stage: string) =>
    o.onProgress?.(Math.min(1, (base + share * Math.min(1, Math.max(0, fraction))) / total), stage);
  const ndcgOf = (score: (h: CsrMatrix) => Float32Array) =>
    evaluateRanking(score, validation.foldIn, validation.heldOut, { ks: [100] })['ndcg@100'];
  const numItems = train.numCols;
  const kept: { ease?: { model: Ease; ndcg: number }; ae: { model: MultDAE | MultVAE; ndcg: number; name: string }[] } =
    { ae: [] };

  try {
    // 1. EASE over λ, then EDLAE over its dropout p and λ again.
    if (numItems > o.maxEaseItems) {
      report({
        name: 'EASE',
        kind: 'ease',
        status: 'SKIPPED',
        ndcg: null,
        settings: { items: numItems },
        seconds: 0,
        reason: `${numItems} items: the dense ${numItems}² inverse exceeds the EASE limit of ${o.maxEaseItems} items`,
      });
    } else {
      const tried = new Map<string, number>();
      const key = (lambda: number, dropout: number) => `${lambda}/${dropout}`;
      const planned = o.lambda !== undefined ? 1 : MAX_EASE_FITS;
      let lastSeconds = 0;
      let budgetHit = false;
      /** Fits (λ, p) unless tried or out of budget; returns its NDCG (undefined when not fitted). */
      const fit = async (lambda: number, dropout: number): Promise<number | undefined> => {
        if (budgetHit || tried.has(key(lambda, dropout)) || tried.size >= planned)
          return tried.get(key(lambda, dropout));
        checkStop();
        const name = easeName(lambda, dropout);
        if (overBudget() || (tried.size > 0 && elapsed() + lastSeconds > o.budgetSeconds)) {
          report({
            name,
            kind: 'ease',
            status: 'SKIPPED',
            ndcg: null,
            settings: { lambda, dropout },
            seconds: 0,
            reason: 'time budget',
          });
          budgetHit = true;
          return undefined;
        }
        const t0 = now();
        const done = tried.size;
        const model = await o.fitEase(
          lambda,
          { onProgress: (f) => progress(stageShares.ease, (done + f) / planned, name), shouldStop: stop },
          dropout,
        );
        checkStop();
        const ndcg = ndcgOf((h) => model.score(h));
        lastSeconds = now() - t0;
        tried.set(key(lambda, dropout), ndcg);
        report({ name, kind: 'ease', status: 'TRAINED', ndcg, settings: { lambda, dropout }, seconds: lastSeconds });
        if (!kept.ease || ndcg > kept.ease.ndcg) kept.ease = { model, ndcg };
        return ndcg;
      };
      const best = () => kept.ease!.model;
      if (o.lambda !== undefined) {
        await fit(o.lambda, 0);
      } else {
        // λ at p = 0: from λ = 250 both ways, on in the improving direction, then refined by √2.
        for (const lambda of [LAMBDA_START, LAMBDA_START / LAMBDA_FACTOR, LAMBDA_START * LAMBDA_FACTOR])
          await fit(lambda, 0);
        if (kept.ease) {
          for (let walked = 0; walked < MAX_LAMBDA_FITS && !budgetHit; walked++) {
            const at = best().lambda;
            const before = tried.size;
            for (const next of [at / LAMBDA_FACTOR, at * LAMBDA_FACTOR])
              if (tried.size < MAX_LAMBDA_FITS) await fit(next, 0);
            if (tried.size === before || best().lambda === at) break;
          }
          const at = best().lambda;
          for (const next of [Math.round(at / Math.SQRT2), Math.round(at * Math.SQRT2)])
            if (tried.size < MAX_LAMBDA_FITS) await fit(next, 0);
          // EDLAE: each dropout p at λ*·(1 − p)² (the popularity penalty takes over part of λ's
          // work: on ML-1M the best λ fell from 1,000 at p = 0 to ≈ 450 at p = 0.33 and 250 at
          // p = 0.5), then λ walked by factor 2 at the best p.
          const lambdaStar = best().lambda;
          const scaled = (p: number) => Math.max(1, Math.round(lambdaStar * (1 - p) ** 2));
          for (const p of DROPOUTS) await fit(scaled(p), p);
          if (best().dropout === DROPOUTS[DROPOUTS.length - 1]) await fit(scaled(EXTRA_DROPOUT), EXTRA_DROPOUT);
          const pStar = best().dropout;
          if (pStar > 0) {
            const start = best().lambda;
            for (const direction of [1 / LAMBDA_FACTOR, LAMBDA_FACTOR]) {
              let lambda = start;
              for (let step = 0; step < 3 && !budgetHit; step++) {
                const next = Math.max(1, Math.round(lambda * direction));
                await fit(next, pStar);
                if (best().lambda !== next || best().dropout !== pStar) break;
                lambda = next;
              }
              if (best().lambda !== start) break; // the first direction improved
            }
          }
        }
      }
      base += stageShares.ease;
    }

    // 2–3. The autoencoders, with budgets from the number of users and early stopping.
    const plan = planTraining(train.numRows, { epochs: o.epochs });
    for (const kind of aeKinds) {
      checkStop();
      const name = kind === 'dae' ? 'Mult-DAE' : 'Mult-VAE';
      if (overBudget()) {
        report({
          name,
          kind,
          status: 'SKIPPED',
          ndcg: null,
          settings: { batchSize: plan.batchSize, epochs: plan.epochs },
          seconds: 0,
          reason: 'time budget',
        });
        base += stageShares.ae;
        continue;
      }
      const t0 = now();
      let budgetHit = false;
      const fitOptions = {
        validation,
        patience: plan.patience,
        threads: o.threads,
        log: o.log,
        onEpoch: (e: EpochReport) => {
          o.onEpoch?.(name, e);
          progress(stageShares.ae, e.epoch / e.epochs, name);
        },
        shouldStop: () => {
          if (stop()) return true;
          if (overBudget()) budgetHit = true;
          return budgetHit;
        },
      };
      const hyper = { ...o.autoencoderSettings, epochs: plan.epochs, batchSize: plan.batchSize, seed: o.seed ?? 1 };
      const model =
        kind === 'dae'
          ? await MultDAE.fit(tf, train, hyper, fitOptions)
          : await MultVAE.fit(tf, train, hyper, fitOptions);
      if (stop()) {
        model.dispose();
        throw new AutoSearchStopped();
      }
      const summary = model.summary!;
      const ndcg = summary.validationNdcg ?? ndcgOf((h) => model.reconstruct(h));
      const settings = {
        batchSize: plan.batchSize,
        maxEpochs: plan.epochs,
        epochsRun: summary.epochs,
        keptEpoch: summary.keptEpoch,
        steps: summary.steps,
        patience: plan.patience,
      };
      report({
        name,
        kind,
        status: budgetHit ? 'STOPPED' : 'TRAINED',
        ndcg,
        settings,
        seconds: now() - t0,
        ...(budgetHit
          ? { reason: `time budget: stopped after ${summary.epochs} of ${plan.epochs} epochs` }
          : summary.stoppedEarly
            ? { reason: `early stop: no better validation NDCG@100 for ${plan.patience} epochs` }
            : {}),
      });
      kept.ae.push({ model, ndcg, name });
      base += stageShares.ae;
    }

    // 4. The blend of EASE with the better autoencoder.
    const bestAe = kept.ae.reduce<(typeof kept.ae)[number] | undefined>(
      (b, a) => (!b || a.ndcg > b.ndcg ? a : b),
      undefined,
    );
    let ensemble: { alpha: number; ndcg: number } | undefined;
    if (kept.ease && bestAe) {
      checkStop();
      const t0 = now();
      const name = `${easeName(kept.ease.model.lambda, kept.ease.model.dropout)} + ${bestAe.name}`;
      const alphas = Array.from({ length: BLEND_STEPS + 1 }, (_, k) => k / BLEND_STEPS);
      const ndcgs = blendNdcgs(kept.ease.model, bestAe.model, alphas, validation);
      let best = 0;
      for (let k = 1; k < alphas.length; k++) if (ndcgs[k] > ndcgs[best]) best = k;
      ensemble = { alpha: alphas[best], ndcg: ndcgs[best] };
      report({
        name,
        kind: 'ensemble',
        status: 'TRAINED',
        ndcg: ndcgs[best],
        settings: { easeWeight: alphas[best], autoencoderWeight: 1 - alphas[best], grid: alphas.length },
        seconds: now() - t0,
      });
      progress(stageShares.blend, 1, name);
    }

    // 5. The three-way blend of EASE and both autoencoders (best autoencoder first: it serves the embeddings).
    let threeWay: { weights: number[]; ndcg: number; members: EnsembleMemberModel[] } | undefined;
    if (kept.ease && kept.ae.length >= 2) {
      checkStop();
      const t0 = now();
      const aes = [...kept.ae].sort((a, b) => b.ndcg - a.ndcg);
      const members: EnsembleMemberModel[] = [kept.ease.model, ...aes.map((a) => a.model)];
      const name = `${easeName(kept.ease.model.lambda, kept.ease.model.dropout)} + ${aes.map((a) => a.name).join(' + ')}`;
      const found = simplexSearch(members, validation, { shouldStop: stop });
      checkStop();
      threeWay = { weights: found.weights, ndcg: found.ndcg, members };
      const weights = Object.fromEntries(members.map((m, k) => [m.kind, found.weights[k]]));
      report({
        name,
        kind: 'ensemble',
        status: 'TRAINED',
        ndcg: found.ndcg,
        settings: { weights, evaluated: found.evaluated },
        seconds: now() - t0,
      });
    }

    // The winner (ties go to the ensemble, which also serves embeddings; among ensembles, the first: fewer members).
    const options: { kind: AutoCandidateKind; ndcg: number; index: number }[] = [];
    candidates.forEach((c, index) => {
      if ((c.status === 'TRAINED' || c.status === 'STOPPED') && c.ndcg !== null)
        options.push({ kind: c.kind, ndcg: c.ndcg, index });
    });
    if (options.length === 0) throw new Error('AUTO: no candidate could be trained within the time budget');
    options.sort((a, b) => b.ndcg - a.ndcg || Number(b.kind === 'ensemble') - Number(a.kind === 'ensemble'));
    const win = options[0];
    candidates[win.index].chosen = true;
    let model: EnsembleMemberModel | Ensemble;
    if (win.kind === 'ensemble' && threeWay && candidates[win.index].settings.weights !== undefined) {
      model = new Ensemble(threeWay.members.map((m, k) => ({ model: m, weight: threeWay!.weights[k] })));
    } else if (win.kind === 'ensemble') {
      model = new Ensemble([
        { model: kept.ease!.model, weight: ensemble!.alpha },
        { model: bestAe!.model, weight: 1 - ensemble!.alpha },
      ]);
    } else if (win.kind === 'ease') {
      model = kept.ease!.model;
    } else {
      model = kept.ae.find((a) => a.model.kind === win.kind)!.model;
    }
    for (const a of kept.ae)
      if (a.model !== model && !(model instanceof Ensemble && model.members.some((m) => m.model === a.model)))
        a.model.dispose();
    const score = (h: CsrMatrix) => model.score(h);
    const metrics = evaluateRanking(score, validation.foldIn, validation.heldOut);
    o.onProgress?.(1, 'done');
    return { model, kind: win.kind, metrics, candidates };
  } catch (error) {
    for (const a of kept.ae) a.model.dispose();
    throw error;
  }
}

/** A candidate's name: "EASE λ=500", or "EASE λ=250 p=0.5" for EDLAE. */
function easeName(lambda: number, dropout: number): string {
  return dropout > 0 ? `EASE λ=${lambda} p=${dropout}` : `EASE λ=${lambda}`;
}

/**
 * Validation NDCG@100 of α·z(EASE) + (1 − α)·z(autoencoder) for each α, scoring every batch of
 * validation users once (the same standardisation as {@link Ensemble.score}).
 */
export function blendNdcgs(
  ease: Ease,
  ae: MultDAE | MultVAE,
  alphas: readonly number[],
  validation: { foldIn: CsrMatrix; heldOut: CsrMatrix },
): number[] {
  const evaluate = blendEvaluator([ease, ae], validation);
  return alphas.map((alpha) => evaluate([alpha, 1 - alpha]));
}

/**
 * Validation NDCG@100 of Σ_m w_m · z_m as a function of the weights: each member scores the
 * validation users once, its scores standardised per user as {@link Ensemble.score} does.
 */
export function blendEvaluator(
  members: readonly EnsembleMemberModel[],
  validation: { foldIn: CsrMatrix; heldOut: CsrMatrix },
): (weights: readonly number[]) => number {
  const n = members[0].numItems;
  const z = members.map((m) => standardizeRows(m.score(validation.foldIn), n));
  return (weights) => {
    if (weights.length !== z.length)
      throw new Error(`blendEvaluator: ${weights.length} weights for ${z.length} members`);
    const blend = new Float32Array(z[0].length);
    weights.forEach((w, k) => w !== 0 && accumulateWeighted(blend, z[k], w));
    return evaluateRanking(() => blend, validation.foldIn, validation.heldOut, {
      ks: [100],
      batchSize: validation.foldIn.numRows,
    })['ndcg@100'];
  };
}

/**
 * The blend weights (on the simplex: w ≥ 0, Σ w = 1) with the best validation NDCG@100: every
 * point of a 0.1 grid, then moves of 0.05 from one member to another while one improves (at most
 * 40 moves). Ties keep the earlier point. About 66 + 6·(moves) evaluations for three members.
 */
export function simplexSearch(
  members: readonly EnsembleMemberModel[],
  validation: { foldIn: CsrMatrix; heldOut: CsrMatrix },
  options: { shouldStop?: () => boolean } = {},
): { weights: number[]; ndcg: number; evaluated: number } {
  const m = members.length;
  const evaluate = blendEvaluator(members, validation);
  const seen = new Map<string, number>();
  // Weights are kept in units of 0.05 (integers summing to 20) so that points compare exactly.
  const UNITS = 20;
  const score = (units: number[]) => {
    const key = units.join(',');
    let v = seen.get(key);
    if (v === undefined) {
      v = evaluate(units.map((u) => u / UNITS));
      seen.set(key, v);
    }
    return v;
  };
  let best: number[] | null = null;
  let bestNdcg = -Infinity;
  const visit = (units: number[]) => {
    const v = score(units);
    if (v > bestNdcg) {
      bestNdcg = v;
      best = units;
    }
  };
  const grid = (prefix: number[], left: number) => {
    if (options.shouldStop?.()) return;
    if (prefix.length === m - 1) return visit([...prefix, left]);
    for (let u = 0; u <= left; u += 2) grid([...prefix, u], left - u);
  };
  grid([], UNITS);
  for (let move = 0; move < 40 && best && !options.shouldStop?.(); move++) {
    const from: number[] = best;
    let improved = false;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i === j || from[i] === 0) continue;
        const next = [...from];
        next[i]--;
        next[j]++;
        const before = bestNdcg;
        visit(next);
        if (bestNdcg > before) improved = true;
      }
    }
    if (!improved) break;
  }
  if (!best) throw new Error('simplexSearch: stopped before any evaluation');
  return { weights: (best as number[]).map((u) => u / UNITS), ndcg: bestNdcg, evaluated: seen.size };
}
