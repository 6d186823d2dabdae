import type pg from 'pg';
import type { SplitFilesPart } from '../core/data/split-files.js';
import { excludeSet } from '../core/index/top-k.js';
import type { Tf } from '../core/models/autorec.js';
import { loadModelVersion } from '../registry/model-versions.queries.js';
import { loadVersion } from './loaded-version.js';
import { internalItemIds } from './serving.queries.js';

/** Ranking metrics of a stored version on a split's held-out users, scored the way serving scores. */
export interface ServedEvaluation {
  versionId: number;
  kind: string;
  users: number;
  'ndcg@100': number;
  'recall@20': number;
  'recall@50': number;
  /** Held-out items the version has no column for (they count as misses). */
  unknownHeldOut: number;
  seconds: number;
}

/**
 * Scores a stored model version on users of a strong-generalization split through the serving
 * path: the version is loaded as an API process loads it (`loadVersion`: weights from
 * `model_versions`, item ids mapped to today's catalog, the same indexes), each user's fold-in items
 * become a history the way `recommendationsForHistory` builds one (`positivesRow`), and the
 * version's ranker returns the top 100 with the fold-in excluded. Metrics as in Liang et al.:
 * NDCG@K with binary relevance over min(|held-out|, K); Recall@K = hits / min(K, |held-out|).
 *
 * @param itemIds external item id of each split column (unique_sid.txt order)
 * @param part the split's validation or test users
 */
export async function evaluateServedVersion(
  db: pg.Pool,
  tf: Tf,
  versionId: number,
  itemIds: readonly string[],
  part: SplitFilesPart,
): Promise<ServedEvaluation> {
  const started = performance.now();
  const artifact = await loadModelVersion(db, versionId);
  if (!artifact) throw new Error(`model version ${versionId} not found`);
  const loaded = await loadVersion(db, artifact, { tf, served: { index: {}, deferPopulation: true } });
  try {
    const internalOfSplitCol = await internalItemIds(db, [...itemIds]);
    const splitColOfModelCol = new Int32Array(loaded.itemOfColumn.length).fill(-1);
    const splitColOfInternal = new Map<number, number>();
    internalOfSplitCol.forEach((id, c) => id >= 0 && splitColOfInternal.set(id, c));
    loaded.itemOfColumn.forEach((id, col) => {
      if (id >= 0) splitColOfModelCol[col] = splitColOfInternal.get(id) ?? -1;
    });
    const discount = Array.from({ length: 100 }, (_, i) => 1 / Math.log2(i + 2));
    let users = 0;
    let ndcg = 0;
    let r20 = 0;
    let r50 = 0;
    let unknownHeldOut = 0;
    for (let u = 0; u < part.heldOut.numRows; u++) {
      const held = new Set(part.heldOut.indices.subarray(part.heldOut.indptr[u], part.heldOut.indptr[u + 1]));
      if (held.size === 0) continue;
      const foldIn = Array.from(part.foldIn.indices.subarray(part.foldIn.indptr[u], part.foldIn.indptr[u + 1]));
      const history = loaded.positivesRow(foldIn.map((c) => internalOfSplitCol[c]).filter((id) => id >= 0));
      for (const c of held) if (loaded.columnOf(internalOfSplitCol[c]) < 0) unknownHeldOut++;
      const seen = excludeSet(history.indices);
      const top = loaded.served
        .ranker(history)(100, seen)
        .map((n) => splitColOfModelCol[n.index]);
      users++;
      let dcg = 0;
      let hits20 = 0;
      let hits50 = 0;
      top.forEach((c, rank) => {
        if (!held.has(c)) return;
        dcg += discount[rank];
        if (rank < 20) hits20++;
        if (rank < 50) hits50++;
      });
      let idcg = 0;
      for (let k = 0; k < Math.min(held.size, 100); k++) idcg += discount[k];
      ndcg += dcg / idcg;
      r20 += hits20 / Math.min(20, held.size);
      r50 += hits50 / Math.min(50, held.size);
    }
    return {
      versionId,
      kind: artifact.kind,
      users,
      'ndcg@100': ndcg / users,
      'recall@20': r20 / users,
      'recall@50': r50 / users,
      unknownHeldOut,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    loaded.dispose();
  }
}
