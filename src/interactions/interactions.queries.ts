import type { ClientBase } from 'pg';
import { ITEM_COLUMNS } from '../catalog/catalog.queries.js';
import type { ItemRow } from '../catalog/catalog.mappers.js';

export interface NewInteraction {
  userId: number;
  itemId: number;
  kind: string;
  value: number;
  occurredAt: Date | null;
  eventId: string | null;
  /** A recommendation's id (uuid) the client attributes the event to. */
  recommendationId?: string | null;
}

export interface StoredInteractionRow {
  /** bigint as a decimal string. */
  id: string;
  userId: number;
  itemId: number;
  kind: string;
  value: number;
  occurredAt: Date;
  eventId: string | null;
  recommendationId: string | null;
}

/** Items by external id (hidden ones included: interactions with hidden items are still recorded). */
export async function findItemsByExternalId(db: ClientBase, externalIds: string[]): Promise<ItemRow[]> {
  const { rows } = await db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM items WHERE external_id = ANY($1::text[])`, [
    externalIds,
  ]);
  return rows;
}

/** Creates the given items with defaults (no title, no categories); returns how many were new. */
export async function createBareItems(db: ClientBase, externalIds: string[]): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO items (external_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (external_id) DO NOTHING`,
    [externalIds],
  );
  return rowCount ?? 0;
}

/**
 * Ensures the users exist; returns external id → internal id for all of them and how many were
 * created. One statement: the CTE inserts the missing ones (sorted, so concurrent batches lock in
 * the same order) and the outer query adds those that already existed.
 */
export async function ensureUsers(
  db: ClientBase,
  externalIds: string[],
): Promise<{ ids: Map<string, number>; created: number }> {
  const { rows } = await db.query<{ id: number; externalId: string; created: boolean }>(
    `WITH wanted AS (SELECT DISTINCT unnest($1::text[]) AS external_id),
          created AS (
            INSERT INTO users (external_id) SELECT external_id FROM wanted ORDER BY 1
            ON CONFLICT (external_id) DO NOTHING
            RETURNING id, external_id)
     SELECT id, external_id AS "externalId", true AS created FROM created
     UNION ALL
     SELECT u.id, u.external_id, false FROM users u JOIN wanted w ON w.external_id = u.external_id`,
    [externalIds],
  );
  const ids = new Map(rows.map((r) => [r.externalId, r.id]));
  if (ids.size < new Set(externalIds).size) {
    // A concurrent transaction inserted some of them after our snapshot: read them now.
    const missing = externalIds.filter((id) => !ids.has(id));
    const more = await db.query<{ id: number; externalId: string }>(
      `SELECT id, external_id AS "externalId" FROM users WHERE external_id = ANY($1::text[])`,
      [missing],
    );
    for (const r of more.rows) ids.set(r.externalId, r.id);
  }
  return { ids, created: rows.filter((r) => r.created).length };
}

/**
 * Inserts interactions in input order, skipping any whose event id is already stored (or repeated
 * earlier in the batch). Returns the stored rows in input order.
 */
export async function insertInteractions(db: ClientBase, rows: NewInteraction[]): Promise<StoredInteractionRow[]> {
  const { rows: stored } = await db.query<StoredInteractionRow>(
    `INSERT INTO interactions (user_id, item_id, kind, value, occurred_at, event_id, recommendation_id)
     SELECT x.user_id, x.item_id, x.kind::interaction_kind, x.value, coalesce(x.occurred_at, now()), x.event_id, x.recommendation_id
     FROM unnest($1::int[], $2::int[], $3::text[], $4::float8[], $5::timestamptz[], $6::text[], $7::uuid[])
       WITH ORDINALITY AS x(user_id, item_id, kind, value, occurred_at, event_id, recommendation_id, ord)
     ORDER BY x.ord
     ON CONFLICT (event_id) DO NOTHING
     RETURNING id, user_id AS "userId", item_id AS "itemId", kind::text AS kind, value,
       occurred_at AS "occurredAt", event_id AS "eventId", recommendation_id AS "recommendationId"`,
    [
      rows.map((r) => r.userId),
      rows.map((r) => r.itemId),
      rows.map((r) => r.kind),
      rows.map((r) => r.value),
      rows.map((r) => (r.occurredAt ? r.occurredAt.toISOString() : null)),
      rows.map((r) => r.eventId),
      rows.map((r) => r.recommendationId ?? null),
    ],
  );
  // Identity values are drawn in insertion order, which follows ORDER BY ord.
  return stored.sort((a, b) => a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
