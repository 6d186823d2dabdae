import { csrSelectRows, type CsrMatrix } from './csr.js';
import { Random } from './random.js';

/** Options of {@link strongGeneralizationSplit}. */
export interface StrongSplitOptions {
  /** Number of validation users (taken among users with ≥ minItems items). */
  heldOutUsers: number;
  /** PRNG seed: the same matrix and seed give the same split. */
  seed: number;
  /** Share of each validation user's items held out to be predicted (default 0.2, as Liang et al.). */
  heldOutFraction?: number;
  /** Users need at least this many items to be eligible for validation (default 5). */
  minItems?: number;
  /**
   * Fixed candidate validation rows (e.g. {@link stableHoldoutRows}) instead of a seeded draw of
   * `heldOutUsers`: the listed rows with ≥ minItems items become validation users (at least one
   * must); `heldOutUsers` is then ignored. The seed still picks each user's held-out items.
   */
  validationRows?: ArrayLike<number>;
}

/** A user-disjoint train/validation split (see {@link strongGeneralizationSplit}). */
export interface StrongSplit {
  /** [trainRows.length × numCols] the training users' full histories. */
  train: CsrMatrix;
  validation: {
    /** [validationRows.length × numCols] items given to the model (the ~80 %). */
    foldIn: CsrMatrix;
    /** [validationRows.length × numCols] items to predict (the ~20 %); never empty for a row. */
    heldOut: CsrMatrix;
  };
  /** [train.numRows] source row of each train row (ascending). */
  trainRows: Int32Array;
  /** [validation rows] source row of each validation row (ascending). */
  validationRows: Int32Array;
  /**
   * Source rows chosen for validation but left out of both sets because fewer than minItems of
   * their items occur among the train users (Liang et al. drop them too). Usually empty.
   */
  droppedRows: Int32Array;
}

/**
 * Strong-generalization split of Liang et al. (2018) for training on live data: validation users
 * are unseen during training and are scored from part of their history.
 *
 * Users (rows) with at least one item are shuffled with a seeded PRNG; among those with
 * ≥ minItems items, the last `heldOutUsers` in shuffled order become validation users and every
 * other non-empty user is a train user. Validation users keep only items that some train user has
 * (the model cannot score an item it never saw in training); each then has
 * h = max(1, floor(heldOutFraction × n)) of their n items held out at random (at most n − 1, so
 * fold-in is never empty), the rest are fold-in. Values are copied unchanged. Column indices are
 * not remapped: all matrices keep `matrix.numCols` columns.
 *
 * @param matrix [users × items] interactions
 * @throws when there are fewer eligible users than heldOutUsers, or no train user would remain
 */
export function strongGeneralizationSplit(matrix: CsrMatrix, options: StrongSplitOptions): StrongSplit {
  const { heldOutUsers, seed, heldOutFraction = 0.2, minItems = 5, validationRows: fixedRows } = options;
  if (!fixedRows && !(Number.isInteger(heldOutUsers) && heldOutUsers >= 1)) throw new Error(`strongGeneralizationSplit: heldOutUsers must be a positive integer, got ${heldOutUsers}`);
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw new Error(`strongGeneralizationSplit: heldOutFraction must be in (0, 1), got ${heldOutFraction}`);
  if (!(Number.isInteger(minItems) && minItems >= 2)) throw new Error(`strongGeneralizationSplit: minItems must be an integer ≥ 2, got ${minItems}`);
  const { indptr, indices, values, numCols } = matrix;

  const nonEmpty: number[] = [];
  for (let r = 0; r < matrix.numRows; r++) if (indptr[r + 1] > indptr[r]) nonEmpty.push(r);
  const rng = new Random(seed);
  rng.shuffle(nonEmpty);
  const isValidation = new Uint8Array(matrix.numRows);
  let chosen = 0;
  if (fixedRows) {
    for (let k = 0; k < fixedRows.length; k++) {
      const r = fixedRows[k];
      if (!(Number.isInteger(r) && r >= 0 && r < matrix.numRows)) throw new Error(`strongGeneralizationSplit: validation row ${r} is not a row of the matrix`);
      if (!isValidation[r] && indptr[r + 1] - indptr[r] >= minItems) {
        isValidation[r] = 1;
        chosen++;
      }
    }
    if (chosen === 0) throw new Error(`strongGeneralizationSplit: none of the ${fixedRows.length} validation rows has ≥ ${minItems} items`);
  } else {
    for (let k = nonEmpty.length - 1; k >= 0 && chosen < heldOutUsers; k--) {
      const r = nonEmpty[k];
      if (indptr[r + 1] - indptr[r] >= minItems) {
        isValidation[r] = 1;
        chosen++;
      }
    }
  }
  if (!fixedRows && chosen < heldOutUsers) {
    throw new Error(`strongGeneralizationSplit: ${heldOutUsers} validation users requested but only ${chosen} users have ≥ ${minItems} items`);
  }
  const trainRows: number[] = [];
  for (let r = 0; r < matrix.numRows; r++) if (!isValidation[r] && indptr[r + 1] > indptr[r]) trainRows.push(r);
  if (trainRows.length === 0) throw new Error('strongGeneralizationSplit: no train users would remain');
  const train = csrSelectRows(matrix, trainRows);

  const seen = new Uint8Array(numCols);
  for (let p = 0; p < train.indptr[train.numRows]; p++) seen[train.indices[p]] = 1;

  const validationRows: number[] = [];
  const droppedRows: number[] = [];
  const fi = { indptr: [0], indices: [] as number[], values: [] as number[] };
  const ho = { indptr: [0], indices: [] as number[], values: [] as number[] };
  for (let r = 0; r < matrix.numRows; r++) {
    if (!isValidation[r]) continue;
    const kept: number[] = []; // positions p into indices/values
    for (let p = indptr[r]; p < indptr[r + 1]; p++) if (seen[indices[p]]) kept.push(p);
    const n = kept.length;
    if (n < minItems) {
      droppedRows.push(r);
      continue;
    }
    const h = Math.min(n - 1, Math.max(1, Math.floor(heldOutFraction * n)));
    // Choose h of the n positions: a partial Fisher–Yates shuffle of local offsets.
    const local = new Int32Array(n);
    for (let k = 0; k < n; k++) local[k] = k;
    const held = new Uint8Array(n);
    for (let k = 0; k < h; k++) {
      const j = k + rng.int(n - k);
      const t = local[k];
      local[k] = local[j];
      local[j] = t;
      held[local[k]] = 1;
    }
    for (let k = 0; k < n; k++) {
      const p = kept[k];
      const dst = held[k] ? ho : fi;
      dst.indices.push(indices[p]);
      dst.values.push(values[p]);
    }
    fi.indptr.push(fi.indices.length);
    ho.indptr.push(ho.indices.length);
    validationRows.push(r);
  }
  const toCsr = (b: typeof fi): CsrMatrix => ({
    numRows: validationRows.length,
    numCols,
    indptr: Int32Array.from(b.indptr),
    indices: Int32Array.from(b.indices),
    values: Float32Array.from(b.values),
  });
  return {
    train,
    validation: { foldIn: toCsr(fi), heldOut: toCsr(ho) },
    trainRows: Int32Array.from(trainRows),
    validationRows: Int32Array.from(validationRows),
    droppedRows: Int32Array.from(droppedRows),
  };
}
