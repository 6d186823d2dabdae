import type pg from 'pg';

export interface MetricsScope {
  /** Impressions served by this version (any experiment or none)… */
  versionId?: number;
  /** …or those of one experiment arm. */
  experiment?: { id: number; arm: number };
  since: Date;
  until: Date;
  /** CTR@k: an attributed interaction with an item at position ≤ k (1-based). */
  k: number;
  attributionWindowHours: number;
  /** RECODER_POPULARITY_WEIGHTS (kinds not listed weigh 1). */
  weights: Record<string, number>;
}

export interface MetricsCounts {
  impressions: number;
  subjects: number;
  fallbacks: number;
  itemsShown: number;
  catalogSize: number;
  clicked: number;
  /** Per impression: the weighted count of its attributed interactions (sum and sum of squares over impressions). */
  weightedSum: number;
  weightedSumSquares: number;
  attributed: number;
  attributedById: number;
  /** Impressions with at least one attributed interaction of the kind. */
  byKind: Record<string, number>;
}

/**
 * Counts for online metrics over the impressions of a scope, with attribution done here, at read
 * time (so an impression written after its interaction, or an interaction arriving late, still
 * counts):
 * - by id: an interaction whose recommendation_id is the impression's;
 * - without id: an interaction of the impression's subject (users.external_id = subject) with an
 *   item the impression showed, at most the attribution window after it. When several impressions
 *   showed the item in the window, the latest before the interaction gets it (last touch), whatever
 *   its version, so no interaction counts twice.
 */
export async function metricsCounts(db: pg.Pool, scope: MetricsScope): Promise<MetricsCounts> {
  const kinds = Object.keys(scope.weights);
  const filter = scope.experiment ? 'experiment_id = $4 AND arm = $5' : 'version_id = $4 AND $5::int IS NULL';
  const { rows } = await db.query<{
    impressions: string;
    subjects: string;
    fallbacks: string;
    items_shown: string;
    catalog_size: string;
    clicked: string;
    weighted_sum: number;
    weighted_sum_squares: number;
    attributed: string;
    attributed_by_id: string;
    by_kind: Record<string, number> | null;
  }>(
    `WITH imp AS MATERIALIZED (
       SELECT id, subject, item_ids, created_at, fallback FROM impressions
       WHERE created_at >= $1 AND created_at < $2 AND ${filter}
     ),
     win AS (SELECT make_interval(secs => $3::float8 * 3600) AS w),
     explicit AS (
       SELECT i.id AS interaction_id, imp.id AS imp_id, i.kind, array_position(imp.item_ids, i.item_id) AS pos, true AS by_id
       FROM imp JOIN interactions i ON i.recommendation_id = imp.id
     ),
     cand AS (
       SELECT DISTINCT i.id, i.item_id, i.kind, i.occurred_at, imp.subject
       FROM imp CROSS JOIN win
       JOIN users u ON u.external_id = imp.subject
       JOIN interactions i ON i.user_id = u.id AND i.recommendation_id IS NULL
         AND i.occurred_at >= imp.created_at AND i.occurred_at < imp.created_at + win.w
       WHERE i.item_id = ANY (imp.item_ids)
     ),
     implicit AS (
       SELECT c.id AS interaction_id, m.id AS imp_id, c.kind, array_position(m.item_ids, c.item_id) AS pos, false AS by_id
       FROM cand c CROSS JOIN win
       CROSS JOIN LATERAL (
         SELECT m.id, m.item_ids FROM impressions m
         WHERE m.subject = c.subject AND m.created_at <= c.occurred_at AND m.created_at > c.occurred_at - win.w
           AND c.item_id = ANY (m.item_ids)
         ORDER BY m.created_at DESC, m.id DESC LIMIT 1
       ) m
       WHERE m.id IN (SELECT id FROM imp)
     ),
     att AS (SELECT * FROM explicit UNION ALL SELECT * FROM implicit),
     per_imp AS (
       SELECT att.imp_id,
         bool_or(att.pos IS NOT NULL AND att.pos <= $6) AS clicked,
         array_agg(DISTINCT att.kind::text) AS kinds,
         sum(coalesce(w.weight, 1))::float8 AS weighted
       FROM att LEFT JOIN unnest($7::text[], $8::float8[]) AS w(kind, weight) ON w.kind = att.kind::text
       GROUP BY att.imp_id
     )
     SELECT
       (SELECT count(*) FROM imp) AS impressions,
       (SELECT count(DISTINCT subject) FROM imp) AS subjects,
       (SELECT count(*) FILTER (WHERE fallback) FROM imp) AS fallbacks,
       (SELECT count(DISTINCT x) FROM imp, unnest(imp.item_ids) AS x) AS items_shown,
       (SELECT count(*) FROM items WHERE NOT hidden) AS catalog_size,
       (SELECT count(*) FILTER (WHERE clicked) FROM per_imp) AS clicked,
       (SELECT coalesce(sum(weighted), 0)::float8 FROM per_imp) AS weighted_sum,
       (SELECT coalesce(sum(weighted * weighted), 0)::float8 FROM per_imp) AS weighted_sum_squares,
       (SELECT count(*) FROM att) AS attributed,
       (SELECT count(*) FILTER (WHERE by_id) FROM att) AS attributed_by_id,
       (SELECT json_object_agg(kind, n) FROM (SELECT k AS kind, count(*) AS n FROM per_imp, unnest(per_imp.kinds) AS k GROUP BY k) s) AS by_kind`,
    [
      scope.since,
      scope.until,
      scope.attributionWindowHours,
      scope.experiment ? scope.experiment.id : scope.versionId,
      scope.experiment ? scope.experiment.arm : null,
      scope.k,
      kinds,
      kinds.map((k) => scope.weights[k]),
    ],
  );
  const r = rows[0];
  return {
    impressions: Number(r.impressions),
    subjects: Number(r.subjects),
    fallbacks: Number(r.fallbacks),
    itemsShown: Number(r.items_shown),
    catalogSize: Number(r.catalog_size),
    clicked: Number(r.clicked),
    weightedSum: r.weighted_sum,
    weightedSumSquares: r.weighted_sum_squares,
    attributed: Number(r.attributed),
    attributedById: Number(r.attributed_by_id),
    byKind: r.by_kind ?? {},
  };
}
