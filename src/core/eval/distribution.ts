/**
 * Comparing two distributions over the same items (e.g. the item popularity of synthetic users
 * against the real one): rank correlation, Jensen–Shannon divergence, the share of the head.
 * Inputs are non-negative weights per item (counts are fine: they are normalised where needed).
 */

/**
 * 1-based ranks of `values` in ascending order; tied values share the average of the ranks they
 * span (e.g. [10, 20, 20, 30] → [1, 2.5, 2.5, 4]).
 */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) if (Number.isNaN(values[i])) throw new Error(`averageRanks: value ${i} is NaN`);
  order.sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of ranks start+1 … end
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

/** Pearson correlation of two equally long samples; NaN when either is constant or shorter than 2. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (y.length !== n) throw new Error(`pearson: lengths differ (${n} vs ${y.length})`);
  if (n < 2) return Number.NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Spearman's rank correlation ρ: the Pearson correlation of the average ranks (ties handled as
 * in scipy.stats.spearmanr). In [−1, 1]; NaN when either sample is constant or shorter than 2.
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length !== y.length) throw new Error(`spearman: lengths differ (${x.length} vs ${y.length})`);
  return pearson(averageRanks(x), averageRanks(y));
}

/** `weights` divided by their sum (which must be positive; every weight finite and ≥ 0). */
function normalised(name: string, weights: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (!(Number.isFinite(w) && w >= 0)) throw new Error(`${name}: weights must be finite and ≥ 0, got ${w} at ${i}`);
    total += w;
  }
  if (!(total > 0)) throw new Error(`${name}: the weights sum to 0`);
  return Float64Array.from(weights, (w) => w / total);
}

/**
 * Jensen–Shannon divergence of two distributions given as non-negative weights over the same
 * items (normalised first): ½ KL(P ‖ M) + ½ KL(Q ‖ M) with M = ½ (P + Q), in bits, so in
 * [0, 1]: 0 for identical distributions, 1 for disjoint supports. (Its square root is the
 * Jensen–Shannon distance, a metric — scipy.spatial.distance.jensenshannon with base 2.)
 */
export function jensenShannon(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new Error(`jensenShannon: lengths differ (${p.length} vs ${q.length})`);
  const P = normalised('jensenShannon', p);
  const Q = normalised('jensenShannon', q);
  let js = 0;
  for (let i = 0; i < P.length; i++) {
    const m = (P[i] + Q[i]) / 2;
    if (P[i] > 0) js += P[i] * Math.log2(P[i] / m);
    if (Q[i] > 0) js += Q[i] * Math.log2(Q[i] / m);
  }
  return Math.min(1, Math.max(0, js / 2));
}

/** How much of two distributions falls on the head of the reference one. */
export interface HeadShare {
  /** Items in the head: the ⌈fraction · n⌉ items with the largest reference weight (ties: lower index). */
  items: number;
  /** Share of the reference weight on the head. */
  reference: number;
  /** Share of the other distribution's weight on the same items. */
  other: number;
}

/**
 * The share of `reference`'s and `other`'s total weight that falls on the reference's top
 * `fraction` of items (e.g. 0.1: the real top-10 % items by interactions), a popularity-bias
 * check: a generator that over-produces popular items puts more than the real share there.
 */
export function headShare(reference: ArrayLike<number>, other: ArrayLike<number>, fraction: number): HeadShare {
  if (reference.length !== other.length)
    throw new Error(`headShare: lengths differ (${reference.length} vs ${other.length})`);
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`headShare: fraction must be in (0, 1], got ${fraction}`);
  const R = normalised('headShare', reference);
  const O = normalised('headShare', other);
  const n = R.length;
  const head = Math.ceil(fraction * n);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => R[b] - R[a] || a - b);
  let r = 0;
  let o = 0;
  for (let k = 0; k < head; k++) {
    r += R[order[k]];
    o += O[order[k]];
  }
  return { items: head, reference: r, other: o };
}

/** How a synthetic item distribution compares with a real one ({@link compareItemCounts}). */
export interface ItemCountComparison {
  /** Items (entries) with a count above 0 in the real and in the synthetic counts. */
  coveredReal: number;
  coveredSynthetic: number;
  /** Spearman ρ of the counts. */
  spearman: number;
  /** Jensen–Shannon divergence of the normalised counts, in bits (0 same, 1 disjoint). */
  jensenShannon: number;
  /** The synthetic share on the real top-10 % items. */
  head: HeadShare;
}

/** Compares per-item counts of synthetic interactions with real ones (same items, same order). */
export function compareItemCounts(real: ArrayLike<number>, synthetic: ArrayLike<number>): ItemCountComparison {
  const covered = (xs: ArrayLike<number>) => Array.prototype.filter.call(xs, (x: number) => x > 0).length;
  return {
    coveredReal: covered(real),
    coveredSynthetic: covered(synthetic),
    spearman: spearman(real, synthetic),
    jensenShannon: jensenShannon(real, synthetic),
    head: headShare(real, synthetic, 0.1),
  };
}
