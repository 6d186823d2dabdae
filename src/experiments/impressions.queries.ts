import type pg from 'pg';
import type { ImpressionRow } from './impression-buffer.js';

/** One multi-row INSERT (arrays unnested); an id already stored is skipped. */
export async function insertImpressions(db: pg.Pool, rows: ImpressionRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO impressions (id, subject, anonymous, version_id, slot, experiment_id, arm, item_ids, fallback, created_at)
     SELECT x.id, x.subject, x.anonymous, x.version_id, x.slot, x.experiment_id, x.arm, x.item_ids::int[], x.fallback, x.created_at
     FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::int[], $5::text[], $6::int[], $7::int[], $8::text[], $9::bool[], $10::timestamptz[])
       AS x(id, subject, anonymous, version_id, slot, experiment_id, arm, item_ids, fallback, created_at)
     ON CONFLICT (id) DO NOTHING`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.subject),
      rows.map((r) => r.anonymous),
      rows.map((r) => r.versionId),
      rows.map((r) => r.slot),
      rows.map((r) => r.experimentId),
      rows.map((r) => r.arm),
      rows.map((r) => `{${r.itemIds.join(',')}}`),
      rows.map((r) => r.fallback),
      rows.map((r) => r.createdAt.toISOString()),
    ],
  );
}

/** Rows deleted per statement by {@link deleteImpressionsBefore} (short transactions, no long locks). */
const DELETE_CHUNK = 10_000;

/** Deletes impressions older than `days` days, a chunk at a time; returns how many. */
export async function deleteImpressionsOlderThan(db: pg.Pool, days: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM impressions WHERE id IN (
         SELECT id FROM impressions WHERE created_at < now() - make_interval(days => $1::int) LIMIT ${DELETE_CHUNK})`,
      [days],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < DELETE_CHUNK) return total;
  }
}
