import type { Db } from '../catalog/catalog.queries.js';
import { ITEM_COLUMNS } from '../catalog/catalog.queries.js';
import type { ItemRow } from '../catalog/catalog.mappers.js';

export interface NewInteraction {
  userId: number;
  itemId: number;
  kind: string;
  value: number;
  occurredAt: Date | null;
  eventId: string | null;
}

export interface StoredInteractionRow {
  id: bigint;
  userId: number;
  itemId: number;
  kind: string;
  value: number;
  occurredAt: Date;
  eventId: string | null;
}

/** Items by external id (hidden ones included: interactions with hidden items are still recorded). */
export function findItemsByExternalId(db: Db, externalIds: string[]): Promise<ItemRow[]> {
  return db.$queryRawUnsafe<ItemRow[]>(`SELECT ${ITEM_COLUMNS} FROM items WHERE external_id = ANY($1::text[])`, externalIds);
}

/** Creates the given items with defaults (no title, no categories); returns how many were new. */
export async function createBareItems(db: Db, externalIds: string[]): Promise<number> {
  return db.$executeRawUnsafe(
    `INSERT INTO items (external_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (external_id) DO NOTHING`,
    externalIds,
  );
}

/** Ensures the users exist; returns external id → internal id for all of them and how many were created. */
export async function ensureUsers(db: Db, externalIds: string[]): Promise<{ ids: Map<string, number>; created: number }> {
  const created = await db.$executeRawUnsafe(
    `INSERT INTO users (external_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT (external_id) DO NOTHING`,
    externalIds,
  );
  const rows = await db.$queryRawUnsafe<{ id: number; externalId: string }[]>(
    `SELECT id, external_id AS "externalId" FROM users WHERE external_id = ANY($1::text[])`,
    externalIds,
  );
  return { ids: new Map(rows.map((r) => [r.externalId, r.id])), created };
}

/**
 * Inserts interactions in input order, skipping any whose event id is already stored (or repeated
 * earlier in the batch). Returns the stored rows in input order.
 */
export async function insertInteractions(db: Db, rows: NewInteraction[]): Promise<StoredInteractionRow[]> {
  const stored = await db.$queryRawUnsafe<StoredInteractionRow[]>(
    `INSERT INTO interactions (user_id, item_id, kind, value, occurred_at, event_id)
     SELECT x.user_id, x.item_id, x.kind::interaction_kind, x.value, coalesce(x.occurred_at, now()), x.event_id
     FROM unnest($1::int[], $2::int[], $3::text[], $4::float8[], $5::timestamptz[], $6::text[])
       WITH ORDINALITY AS x(user_id, item_id, kind, value, occurred_at, event_id, ord)
     ORDER BY x.ord
     ON CONFLICT (event_id) DO NOTHING
     RETURNING id, user_id AS "userId", item_id AS "itemId", kind::text AS kind, value,
       occurred_at AS "occurredAt", event_id AS "eventId"`,
    rows.map((r) => r.userId),
    rows.map((r) => r.itemId),
    rows.map((r) => r.kind),
    rows.map((r) => r.value),
    rows.map((r) => (r.occurredAt ? r.occurredAt.toISOString() : null)),
    rows.map((r) => r.eventId),
  );
  // Identity values are drawn in insertion order, which follows ORDER BY ord.
  return stored.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
