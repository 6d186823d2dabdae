import { invertSpdInPlace } from './ease.js';

/**
 * A linear map with intercept, fitted by ridge regression: Y ≈ [X, 1] · W, minimising
 * ‖Y − [X, 1]W‖² + λ‖W without its intercept row‖². Closed form W = (X̃ᵀX̃ + λD)⁻¹ X̃ᵀY.
 * Used for cold start: visual embedding → collaborative item vector.
 */
export class RidgeMap {
  private constructor(
    /** Input dimension p. */
    readonly inputDim: number,
    /** Output dimension q. */
    readonly outputDim: number,
    /** [(p + 1) × q], the last row the intercept. */
    readonly weights: Float64Array,
  ) {}

  /**
   * @param x [n × p] inputs, row-major
   * @param y [n × q] targets, row-major
   */
  static fit(x: Float32Array, y: Float32Array, n: number, p: number, q: number, lambda: number): RidgeMap {
    if (x.length !== n * p || y.length !== n * q)
      throw new Error(
        `RidgeMap.fit: x has ${x.length} values (expected ${n}×${p}), y ${y.length} (expected ${n}×${q})`,
      );
    if (n < 1) throw new Error('RidgeMap.fit: no rows');
    if (!(lambda >= 0)) throw new Error(`RidgeMap.fit: lambda must be ≥ 0, got ${lambda}`);
    const d = p + 1;
    const a = new Float64Array(d * d);
    const b = new Float64Array(d * q);
    const row = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < p; k++) row[k] = x[i * p + k];
      row[p] = 1;
      for (let r = 0; r < d; r++) {
        const v = row[r];
        if (v === 0) continue;
        for (let c = 0; c < d; c++) a[r * d + c] += v * row[c];
        for (let c = 0; c < q; c++) b[r * q + c] += v * y[i * q + c];
      }
    }
    for (let k = 0; k < p; k++) a[k * d + k] += lambda;
    a[p * d + p] += 1e-9; // the intercept is not penalised; keep the system definite
    invertSpdInPlace(a, d);
    const w = new Float64Array(d * q);
    for (let r = 0; r < d; r++)
      for (let k = 0; k < d; k++) {
        const f = a[r * d + k];
        if (f === 0) continue;
        for (let c = 0; c < q; c++) w[r * q + c] += f * b[k * q + c];
      }
    return new RidgeMap(p, q, w);
  }

  /** [n × q] outputs for [n × p] inputs. */
  apply(x: Float32Array, n: number): Float32Array {
    const { inputDim: p, outputDim: q, weights: w } = this;
    if (x.length !== n * p) throw new Error(`RidgeMap.apply: x has ${x.length} values, expected ${n}×${p}`);
    const out = new Float32Array(n * q);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < q; c++) {
        let s = w[p * q + c];
        for (let k = 0; k < p; k++) s += x[i * p + k] * w[k * q + c];
        out[i * q + c] = s;
      }
    return out;
  }
}
