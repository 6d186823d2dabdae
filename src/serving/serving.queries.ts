import type pg from 'pg';
import type { UserRow } from '../catalog/catalog.mappers.js';

const USER_FIELDS = `id, external_id AS "externalId", attributes, created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface HistoryEntry {
  itemId: number;
  kind: string;
  value: number | null;
}

/** A user's internal id and every interaction (oldest first), in one round trip; null if unknown. */
export async function userWithHistory(
  db: pg.Pool,
  externalId: string,
): Promise<{ userId: number; history: HistoryEntry[] } | null> {
  const { rows } = await db.query<{ userId: number; itemId: number | null; kind: string | null; value: number | null }>(
    {
      name: 'serving.userWithHistory',
      text: `SELECT u.id AS "userId", i.item_id AS "itemId", i.kind::text AS kind, i.value
           FROM users u LEFT JOIN interactions i ON i.user_id = u.id
           WHERE u.external_id = $1 ORDER BY i.id`,
      values: [externalId],
    },
  );
  if (rows.length === 0) return null;
  const history = rows
    .filter((r) => r.itemId !== null)
    .map((r) => ({ itemId: r.itemId!, kind: r.kind!, value: r.value }));
  return { userId: rows[0].userId, history };
}

/** Internal ids (and hidden flags) of items by external id; unknown ids are absent from the map. */
export async function itemsByExternalId(
  db: pg.Pool,
  externalIds: readonly string[],
): Promise<Map<string, { id: number; hidden: boolean }>> {
  if (externalIds.length === 0) return new Map();
  const { rows } = await db.query<{ id: number; externalId: string; hidden: boolean }>({
    name: 'serving.itemsByExternalId',
    text: `SELECT id, external_id AS "externalId", hidden FROM items WHERE external_id = ANY($1::text[])`,
    values: [externalIds],
  });
  return new Map(rows.map((r) => [r.externalId, { id: r.id, hidden: r.hidden }]));
}

/** Internal ids of the visible items in any of `categories`. */
export async function visibleItemIdsInCategories(db: pg.Pool, categories: readonly string[]): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>({
    name: 'serving.visibleItemIdsInCategories',
    text: `SELECT id FROM items WHERE categories && $1::varchar[] AND NOT hidden`,
    values: [categories],
  });
  return rows.map((r) => r.id);
}

/** Users by internal id, in the order of `ids`; deleted ones are left out. */
export async function usersById(db: pg.Pool, ids: readonly number[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<UserRow>({
    name: 'serving.usersById',
    text: `SELECT ${USER_FIELDS} FROM users WHERE id = ANY($1::int[])`,
    values: [ids],
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id)).filter((r): r is UserRow => r !== undefined);
}

/** Internal id of every item whose external id is listed, by position (-1: no such item now). */
export async function internalItemIds(db: pg.Pool, externalIds: readonly string[]): Promise<Int32Array> {
  const found = await itemsByExternalId(db, externalIds);
  return Int32Array.from(externalIds, (e) => found.get(e)?.id ?? -1);
}

export { streamInteractions } from '../database/interaction-stream.js';
