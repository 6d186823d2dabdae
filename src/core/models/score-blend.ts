/**
 * Linear blends of ranking scores from several models (e.g. EASE and Mult-DAE), as an ensemble
 * whose weights are chosen on validation users.
 *
 * Different models score on different scales (EASE: reconstructed interaction weights around
 * 0–1; Mult-DAE/VAE: logits), so each model's row is first standardised over the items of that
 * row — z = (s − mean) / std — and the blend is Σ_m w_m · z_m. Standardisation is per row and
 * affine, so a blend with one non-zero weight ranks exactly like that model alone.
 */

/**
 * Standardises every row of `scores` [rows × numItems] in place: (s − mean_row) / std_row
 * (population std; a constant row becomes all zeros). Non-finite scores are left untouched and
 * ignored by the statistics.
 * @returns `scores`
 */
export function standardizeRows(scores: Float32Array, numItems: number): Float32Array {
  if (!(Number.isInteger(numItems) && numItems >= 1 && scores.length % numItems === 0)) {
    throw new Error(`standardizeRows: ${scores.length} scores is not a whole number of rows of ${numItems} items`);
  }
  for (let base = 0; base < scores.length; base += numItems) {
    const [mean, std] = rowStats(scores, base, numItems);
    const inv = std > 0 ? 1 / std : 0;
    for (let j = base; j < base + numItems; j++) if (Number.isFinite(scores[j])) scores[j] = (scores[j] - mean) * inv;
  }
  return scores;
}

/**
 * Mean and population standard deviation (Welford) of the finite values in s[at, at + n), the
 * statistics {@link standardizeRows} uses: [mean, std], std 0 when there is at most one value.
 */
export function rowStats(s: Float32Array, at: number, n: number): [number, number] {
  let count = 0;
  let mean = 0;
  let m2 = 0;
  for (let j = at; j < at + n; j++) {
    const x = s[j];
    if (!Number.isFinite(x)) continue;
    count++;
    const d = x - mean;
    mean += d / count;
    m2 += d * (x - mean);
  }
  return [mean, count > 0 ? Math.sqrt(m2 / count) : 0];
}

/**
 * Σ_m weights[m] · standardizeRows(parts[m]) for score matrices of equal shape.
 * @param parts [models] score matrices [rows × numItems] (not modified)
 * @param weights [models] blend weights (any real numbers; 0 drops a model)
 * @returns a new [rows × numItems] matrix
 */
export function blendScores(
  parts: readonly Float32Array[],
  weights: readonly number[],
  numItems: number,
): Float32Array {
  if (parts.length === 0 || parts.length !== weights.length)
    throw new Error(`blendScores: ${parts.length} score matrices for ${weights.length} weights`);
  const n = parts[0].length;
  if (parts.some((p) => p.length !== n)) throw new Error('blendScores: score matrices differ in size');
  const out = new Float32Array(n);
  for (let m = 0; m < parts.length; m++) {
    if (weights[m] === 0) continue;
    const z = standardizeRows(parts[m].slice(), numItems);
    const w = weights[m];
    for (let k = 0; k < n; k++) out[k] += w * z[k];
  }
  return out;
}

/**
 * Weights of a two-model blend to try: α and 1 − α for α = 0, 1/steps, …, 1.
 * @returns [steps + 1] pairs [α, 1 − α]
 */
export function twoWayWeights(steps: number): [number, number][] {
  if (!(Number.isInteger(steps) && steps >= 1))
    throw new Error(`twoWayWeights: steps must be a positive integer, got ${steps}`);
  return Array.from({ length: steps + 1 }, (_, k) => {
    const a = k / steps;
    return [a, 1 - a] as [number, number];
  });
}
