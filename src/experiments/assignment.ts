import { hashId } from '../core/data/stable-holdout.js';

/**
 * The arm of a subject (user id or session id) in an experiment: a stable hash of experiment id
 * and subject, mapped onto the arms' cumulative weights. The same in every process and at every
 * request (sticky), independent across experiments (a user in the treatment of one experiment is
 * not systematically in the treatment of the next).
 */
export function assignArm(experimentId: number, subject: string, weights: readonly number[]): number {
  const u = hashId(`${experimentId}:${subject}`) / 2 ** 32;
  const total = weights.reduce((s, w) => s + w, 0);
  let acc = 0;
  for (let a = 0; a < weights.length; a++) {
    acc += weights[a] / total;
    if (u < acc) return a;
  }
  return weights.length - 1;
}
