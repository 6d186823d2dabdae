/**
 * Confidence intervals for online metrics (plain TypeScript, no framework). 95 % throughout.
 *
 * - A proportion (CTR@k, conversion per kind, fallback share): the Wilson score interval, which
 *   stays inside [0, 1] and keeps its coverage for small counts and rates near 0, where the
 *   normal (Wald) interval fails.
 * - A difference of two proportions (an arm minus the control): Newcombe's hybrid score interval
 *   (method 10 of Newcombe 1998), built from the two Wilson intervals; "significant" means it
 *   excludes 0. The two-sided p-value is the pooled two-proportion z-test's.
 * - A mean (weighted conversion per impression) and a difference of means: normal intervals with
 *   the sample variance (Welch's standard error for the difference); impressions are many, so the
 *   central limit theorem applies.
 */

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

export interface ProportionEstimate {
  successes: number;
  trials: number;
  /** successes / trials; null without trials. */
  rate: number | null;
  low: number;
  high: number;
}

export interface MeanEstimate {
  n: number;
  mean: number | null;
  low: number | null;
  high: number | null;
}

export interface DifferenceEstimate {
  /** Arm minus control. */
  estimate: number | null;
  low: number | null;
  high: number | null;
  /** Two-sided p-value of "no difference". */
  pValue: number | null;
  /** The 95 % interval excludes 0. */
  significant: boolean;
}

/** Wilson score interval of `successes` out of `trials`; [0, 1] without trials. */
export function wilson(successes: number, trials: number, z = Z95): ProportionEstimate {
  if (!(trials > 0)) return { successes, trials, rate: null, low: 0, high: 1 };
  const p = successes / trials;
  const z2 = z * z;
  const denom = 1 + z2 / trials;
  const center = (p + z2 / (2 * trials)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { successes, trials, rate: p, low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

/** Newcombe's hybrid score interval for p_a − p_b and the pooled z-test's p-value. */
export function proportionDifference(
  a: { successes: number; trials: number },
  b: { successes: number; trials: number },
  z = Z95,
): DifferenceEstimate {
  if (!(a.trials > 0 && b.trials > 0))
    return { estimate: null, low: null, high: null, pValue: null, significant: false };
  const wa = wilson(a.successes, a.trials, z);
  const wb = wilson(b.successes, b.trials, z);
  const pa = wa.rate!;
  const pb = wb.rate!;
  const d = pa - pb;
  const low = d - Math.sqrt((pa - wa.low) ** 2 + (wb.high - pb) ** 2);
  const high = d + Math.sqrt((wa.high - pa) ** 2 + (pb - wb.low) ** 2);
  const pooled = (a.successes + b.successes) / (a.trials + b.trials);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / a.trials + 1 / b.trials));
  const pValue = se > 0 ? 2 * normalTail(Math.abs(d) / se) : d === 0 ? 1 : 0;
  return { estimate: d, low, high, pValue, significant: low > 0 || high < 0 };
}

/** Mean and normal interval from a count, a sum and a sum of squares. */
export function meanEstimate(n: number, sum: number, sumSquares: number, z = Z95): MeanEstimate {
  if (!(n > 0)) return { n, mean: null, low: null, high: null };
  const mean = sum / n;
  const se = Math.sqrt(sampleVariance(n, sum, sumSquares) / n);
  return { n, mean, low: mean - z * se, high: mean + z * se };
}

/** Welch's normal interval for mean_a − mean_b. */
export function meanDifference(
  a: { n: number; sum: number; sumSquares: number },
  b: { n: number; sum: number; sumSquares: number },
  z = Z95,
): DifferenceEstimate {
  if (!(a.n > 1 && b.n > 1)) return { estimate: null, low: null, high: null, pValue: null, significant: false };
  const d = a.sum / a.n - b.sum / b.n;
  const se = Math.sqrt(sampleVariance(a.n, a.sum, a.sumSquares) / a.n + sampleVariance(b.n, b.sum, b.sumSquares) / b.n);
  if (!(se > 0)) return { estimate: d, low: d, high: d, pValue: d === 0 ? 1 : 0, significant: d !== 0 };
  const low = d - z * se;
  const high = d + z * se;
  return { estimate: d, low, high, pValue: 2 * normalTail(Math.abs(d) / se), significant: low > 0 || high < 0 };
}

function sampleVariance(n: number, sum: number, sumSquares: number): number {
  if (n < 2) return 0;
  return Math.max(0, (sumSquares - (sum * sum) / n) / (n - 1));
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7). */
export function normalCdf(x: number): number {
  return x >= 0 ? 1 - normalTail(x) : normalTail(-x);
}

/**
 * P(Z > x) for x ≥ 0, computed directly (not as 1 − CDF, which rounds to 0 beyond x ≈ 8), so
 * tiny p-values stay positive: the A–S 7.1.26 form erfc(u) ≈ poly(t)·e^(−u²) up to x = 5, the
 * asymptotic series beyond.
 */
export function normalTail(x: number): number {
  if (x > 5) {
    // Asymptotic series φ(x)/x · (1 − 1/x² + 3/x⁴ − 15/x⁶): relative error < 1e-3 here, where the
    // A–S form is only absolutely accurate.
    const x2 = x * x;
    return (Math.exp(-x2 / 2) / (x * Math.sqrt(2 * Math.PI))) * (1 - 1 / x2 + 3 / (x2 * x2) - 15 / (x2 * x2 * x2));
  }
  const t = 1 / (1 + (0.3275911 * x) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return (poly * Math.exp(-(x * x) / 2)) / 2;
}
