import type { Baseline } from './train-version.js';
import type { RunComparison, TrainingRunRow } from './training-runs.queries.js';

/** The metric ranking versions are compared on. */
const COMPARED = 'ndcg@100';

/** The activation decision of a finished run, and the comparison to record. */
export function decide(
  run: Pick<TrainingRunRow, 'activation' | 'kind'>,
  metrics: Record<string, number>,
  baseline: Baseline | null,
): {
  comparison: RunComparison | null;
  activate: boolean;
  decision: string;
  experiment?: { controlVersionId: number };
} {
  if (run.kind === 'AUTOREC') {
    if (run.activation === 'EXPERIMENT') {
      if (!baseline)
        return { comparison: null, activate: true, decision: 'activated (EXPERIMENT): no version was active' };
      return {
        comparison: null,
        activate: false,
        decision: `experiment (EXPERIMENT) against active version ${baseline.versionId}`,
        experiment: { controlVersionId: baseline.versionId },
      };
    }
    const activate = run.activation === 'ALWAYS';
    return { comparison: null, activate, decision: activate ? 'activated (ALWAYS)' : 'not activated (NEVER)' };
  }
  // Ranking models compare NDCG@100 (higher is better); the image autoencoder its validation MSE (lower).
  const metric = run.kind === 'CONV_AE' ? 'mse' : COMPARED;
  const better = (a: number, b: number) => (run.kind === 'CONV_AE' ? a < b : a > b);
  const candidate = metrics[metric];
  const active = baseline?.metrics[metric] ?? null;
  const comparison: RunComparison = {
    metric,
    candidate,
    activeVersionId: baseline?.versionId ?? null,
    active,
    users: metrics.users ?? metrics.images,
  };
  const vs = active === null ? '' : ` vs ${active.toFixed(4)} of version ${baseline!.versionId}`;
  switch (run.activation) {
    case 'ALWAYS':
      return { comparison, activate: true, decision: `activated (ALWAYS); ${metric} ${candidate.toFixed(4)}${vs}` };
    case 'NEVER':
      return { comparison, activate: false, decision: `not activated (NEVER); ${metric} ${candidate.toFixed(4)}${vs}` };
    case 'EXPERIMENT':
      // The offline comparison is recorded; the online experiment decides.
      if (!baseline)
        return {
          comparison,
          activate: true,
          decision: `activated (EXPERIMENT): no version was active; ${metric} ${candidate.toFixed(4)}`,
        };
      return {
        comparison,
        activate: false,
        decision: `experiment (EXPERIMENT) against active version ${baseline.versionId}; ${metric} ${candidate.toFixed(4)}${vs}`,
        experiment: { controlVersionId: baseline.versionId },
      };
    default: {
      if (!baseline)
        return {
          comparison,
          activate: true,
          decision: `activated (IF_BETTER): no version was active; ${metric} ${candidate.toFixed(4)}`,
        };
      if (active === null) {
        const why =
          run.kind === 'CONV_AE'
            ? 'was trained on images of another shape'
            : '(AUTOREC) cannot be compared on ' + metric;
        return {
          comparison,
          activate: false,
          decision: `not activated (IF_BETTER): active version ${baseline.versionId} ${why}`,
        };
      }
      const [gt, le] = run.kind === 'CONV_AE' ? ['<', '≥'] : ['>', '≤'];
      return better(candidate, active)
        ? {
            comparison,
            activate: true,
            decision: `activated (IF_BETTER): ${metric} ${candidate.toFixed(4)} ${gt} ${active.toFixed(4)} of version ${baseline.versionId}`,
          }
        : {
            comparison,
            activate: false,
            decision: `not activated (IF_BETTER): ${metric} ${candidate.toFixed(4)} ${le} ${active.toFixed(4)} of version ${baseline.versionId}`,
          };
    }
  }
}

/** Share of the users a run's new version gets with `activate: EXPERIMENT` unless the request says. */
export const DEFAULT_EXPERIMENT_SHARE = 0.1;
