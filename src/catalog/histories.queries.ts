import type pg from 'pg';

/**
 * What a history's values mean to a model: for rating models (AutoRec) the RATING values, else 1
 * for any non-RATING interaction and for ratings ≥ `minRating` (LoadedVersion.historyRow's rule).
 */
export interface HistoryView {
  ratings: boolean;
  minRating: number;
}

/**
 * A user's history in compact form, for a batch of recommendation requests: the item ids of
 * every interaction, oldest first, and beside them the value each counts with in the model's
 * matrix ({@link HistoryView}; NaN: it does not count).
 */
export interface CompactHistory {
  userId: number;
  /** Internal item id of every interaction, oldest first. */
  items: Int32Array;
  /** The matrix value of each interaction (NaN: it does not count). */
  values: Float32Array;
}

/** The compact histories of the users among `externalIds` that exist, in one statement (one row per user). */
export async function compactHistories(
  db: pg.Pool,
  externalIds: readonly string[],
  view: HistoryView,
): Promise<Map<string, CompactHistory>> {
  if (externalIds.length === 0) return new Map();
  const { rows } = await db.query<{ externalId: string; userId: number; items: number[]; values: (number | null)[] }>({
    name: 'serving.compactHistories',
    // A lateral aggregate per user over its rows in id order (documented PostgreSQL behaviour for
    // an ordered subquery): about 6× faster than GROUP BY with ORDER BY inside the aggregates.
    text: `SELECT u.external_id AS "externalId", u.id AS "userId", h.items, h.values
           FROM users u CROSS JOIN LATERAL (
             SELECT coalesce(array_agg(s.item_id), '{}') AS items, coalesce(array_agg(s.v), '{}') AS values
             FROM (SELECT i.item_id,
                          CASE WHEN $2::boolean THEN CASE WHEN i.kind = 'RATING' THEN i.value END
                               WHEN i.kind <> 'RATING' OR i.value >= $3::float8 THEN 1 END AS v
                   FROM interactions i WHERE i.user_id = u.id ORDER BY i.id) s
           ) h
           WHERE u.external_id = ANY($1::text[])`,
    values: [externalIds, view.ratings, view.minRating],
  });
  return new Map(
    rows.map((r) => [
      r.externalId,
      {
        userId: r.userId,
        items: Int32Array.from(r.items),
        values: Float32Array.from(r.values, (v) => (v === null ? NaN : v)),
      },
    ]),
  );
}

/**
 * External ids of the users behind the latest `interactions` interactions, least recently active
 * first (for {@link HistoryCache.prefetch}: read in this order, the most recent end up most
 * recently used). Reads at most `interactions` rows of the interactions' primary key.
 */
export async function recentlyActiveUsers(db: pg.Pool, interactions: number): Promise<string[]> {
  const { rows } = await db.query<{ externalId: string }>(
    `SELECT u.external_id AS "externalId"
       FROM (SELECT user_id, max(id) AS last
               FROM (SELECT user_id, id FROM interactions ORDER BY id DESC LIMIT $1) latest
              GROUP BY user_id) r
       JOIN users u ON u.id = r.user_id
      ORDER BY r.last`,
    [interactions],
  );
  return rows.map((r) => r.externalId);
}
