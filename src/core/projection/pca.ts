/**
 * Principal component analysis of row vectors down to a few dimensions, for maps of a model's
 * latent space (the dashboard's item and user maps). Plain arithmetic in float64: the d×d
 * covariance of the centred rows, estimated from at most `covarianceRows` evenly spaced rows
 * (m·d²/2 multiply-adds: 5,000 rows × 600 dimensions ≈ 0.9 G), then its leading eigenvectors by
 * block power iteration (orthogonal iteration with Gram–Schmidt), which is exact enough for a
 * picture and needs no linear-algebra library; every row is then projected (n·d·k). `pause` is
 * awaited between chunks of rows, so a server stays responsive while a map is computed.
 * Deterministic: the start block is a fixed function of the dimension, and each axis' sign is
 * chosen so the sum of projections' cubes is positive (the same data gives the same picture, not a
 * mirrored one).
 */

export interface PcaOptions {
  /** Output dimensions (default 2). */
  components?: number;
  /** Scale every row to unit length first (cosine geometry, as similarItems uses). Default true. */
  normalize?: boolean;
  /** Power-iteration steps at most (default 200); stops earlier once the subspace is stable. */
  maxIterations?: number;
  /** Rows the covariance is estimated from, evenly spaced (default 5,000; all rows when fewer). */
  covarianceRows?: number;
  /** Awaited every ~1,000 rows of work (e.g. a setImmediate promise in a server). */
  pause?: () => Promise<void>;
}

export interface PcaResult {
  /** Row-major [n × components] coordinates. */
  coordinates: Float32Array;
  components: number;
  /** Share (0–1) of the total variance each output axis explains. */
  explainedVariance: number[];
}

/** Projects `n` rows of `dim` values (row-major `vectors`) onto their leading principal axes. */
export async function pca(
  vectors: Float32Array | Float64Array,
  dim: number,
  options: PcaOptions = {},
): Promise<PcaResult> {
  const k = options.components ?? 2;
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`pca: dimension must be a positive integer, got ${dim}`);
  if (vectors.length % dim !== 0)
    throw new Error(`pca: ${vectors.length} values is not a whole number of rows of ${dim}`);
  if (!Number.isInteger(k) || k < 1 || k > dim) throw new Error(`pca: components must be in 1..${dim}, got ${k}`);
  const n = vectors.length / dim;
  const normalize = options.normalize ?? true;

  // Rows (optionally unit length) and their mean.
  const rows = Float32Array.from(vectors); // float32 storage (a 20,000 × 600 map is 48 MB), float64 sums
  if (normalize) {
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += rows[r * dim + d] ** 2;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let d = 0; d < dim; d++) rows[r * dim + d] *= inv;
    }
  }
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) mean[d] += rows[r * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= Math.max(n, 1);
  for (let r = 0; r < n; r++) for (let d = 0; d < dim; d++) rows[r * dim + d] -= mean[d];

  // Covariance (upper triangle, mirrored) of evenly spaced rows.
  const pause = options.pause ?? (() => Promise.resolve());
  const m = Math.min(n, Math.max(1, options.covarianceRows ?? 5_000));
  const step = n / m;
  const cov = new Float64Array(dim * dim);
  for (let s = 0; s < m && n > 0; s++) {
    if (s % 500 === 499) await pause();
    const o = Math.floor(s * step) * dim;
    for (let i = 0; i < dim; i++) {
      const v = rows[o + i];
      if (v === 0) continue;
      const ci = i * dim;
      for (let j = i; j < dim; j++) cov[ci + j] += v * rows[o + j];
    }
  }
  let trace = 0;
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      cov[i * dim + j] /= Math.max(m - 1, 1);
      cov[j * dim + i] = cov[i * dim + j];
    }
    trace += cov[i * dim + i];
  }

  const { vectors: axes, values } = leadingEigenvectors(cov, dim, k, options.maxIterations ?? 200);

  const coordinates = new Float32Array(n * k);
  for (let c = 0; c < k; c++) {
    let cubes = 0;
    for (let r = 0; r < n; r++) {
      if (r % 5_000 === 4_999) await pause();
      let s = 0;
      for (let d = 0; d < dim; d++) s += rows[r * dim + d] * axes[c * dim + d];
      coordinates[r * k + c] = s;
      cubes += s * s * s;
    }
    if (cubes < 0) for (let r = 0; r < n; r++) coordinates[r * k + c] = -coordinates[r * k + c];
  }
  return { coordinates, components: k, explainedVariance: values.map((v) => (trace > 0 ? Math.max(v, 0) / trace : 0)) };
}

/**
 * The k leading eigenvectors (row-major [k × dim]) and eigenvalues of a symmetric positive
 * semi-definite matrix, by orthogonal iteration.
 */
export function leadingEigenvectors(
  matrix: Float64Array,
  dim: number,
  k: number,
  maxIterations = 200,
): { vectors: Float64Array; values: number[] } {
  let q = new Float64Array(k * dim);
  // A fixed, well-spread start block (no Math.random: deterministic output).
  for (let c = 0; c < k; c++)
    for (let d = 0; d < dim; d++) q[c * dim + d] = Math.sin((d + 1) * (c + 1) * 1.618) + (d === c ? 1 : 0);
  orthonormalize(q, dim, k);
  const next = new Float64Array(k * dim);
  for (let it = 0; it < maxIterations; it++) {
    next.fill(0);
    for (let c = 0; c < k; c++) {
      for (let i = 0; i < dim; i++) {
        let s = 0;
        const ri = i * dim;
        for (let j = 0; j < dim; j++) s += matrix[ri + j] * q[c * dim + j];
        next[c * dim + i] = s;
      }
    }
    orthonormalize(next, dim, k);
    // Converged when every new axis is (up to sign) the old one.
    let change = 0;
    for (let c = 0; c < k; c++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += next[c * dim + d] * q[c * dim + d];
      change = Math.max(change, 1 - Math.abs(dot));
    }
    q = Float64Array.from(next);
    if (change < 1e-10) break;
  }
  const values: number[] = [];
  for (let c = 0; c < k; c++) {
    let rayleigh = 0;
    for (let i = 0; i < dim; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += matrix[i * dim + j] * q[c * dim + j];
      rayleigh += q[c * dim + i] * s;
    }
    values.push(rayleigh);
  }
  return { vectors: q, values };
}

/** Modified Gram–Schmidt on k row vectors of length dim, in place (a zero vector stays zero). */
function orthonormalize(q: Float64Array, dim: number, k: number): void {
  for (let c = 0; c < k; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let d = 0; d < dim; d++) dot += q[c * dim + d] * q[p * dim + d];
      for (let d = 0; d < dim; d++) q[c * dim + d] -= dot * q[p * dim + d];
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += q[c * dim + d] ** 2;
    const inv = norm > 1e-300 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) q[c * dim + d] *= inv;
  }
}
