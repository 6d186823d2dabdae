import type pg from 'pg';

export interface PopularityQuery {
  /** Weight per interaction kind; kinds not listed weigh 1. */
  weights: Record<string, number>;
  /** Only items in at least one of these categories. */
  categories?: readonly string[] | null;
  excludeItemIds?: readonly number[];
  limit: number;
}

/**
 * Visible items by weighted interaction count (all time), best first: the fallback recommender
 * for users the model cannot serve. Aggregates every interaction, so callers cache the unfiltered
 * ranking.
 */
export async function popularItemIds(db: pg.Pool, q: PopularityQuery): Promise<{ itemId: number; score: number }[]> {
  const kinds = Object.keys(q.weights);
  const { rows } = await db.query<{ itemId: number; score: number }>({
    text: `SELECT i.item_id AS "itemId", sum(coalesce(w.weight, 1))::float8 AS score
           FROM interactions i
           JOIN items it ON it.id = i.item_id AND NOT it.hidden AND ($1::varchar[] IS NULL OR it.categories && $1::varchar[])
           LEFT JOIN unnest($2::text[], $3::float8[]) AS w(kind, weight) ON w.kind = i.kind::text
           WHERE NOT (i.item_id = ANY($4::int[]))
           GROUP BY i.item_id
           HAVING sum(coalesce(w.weight, 1)) > 0
           ORDER BY score DESC, i.item_id
           LIMIT $5`,
    values: [q.categories ?? null, kinds, kinds.map((k) => q.weights[k]), q.excludeItemIds ?? [], q.limit],
  });
  return rows;
}
