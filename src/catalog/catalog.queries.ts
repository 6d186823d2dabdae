import type { PrismaClient } from '../generated/prisma/client.js';
import type { ItemRow, UserRow } from './catalog.mappers.js';

/** Prisma client or transaction: query functions work in the server, in transactions and in scripts. */
export type Db = Pick<PrismaClient, '$queryRawUnsafe' | '$executeRawUnsafe' | 'item' | 'user' | 'interaction'>;

export const ITEM_COLUMNS = `id, external_id AS "externalId", title, categories, attributes, hidden,
  created_at AS "createdAt", updated_at AS "updatedAt"`;
export const USER_COLUMNS = `id, external_id AS "externalId", attributes, created_at AS "createdAt", updated_at AS "updatedAt"`;

export interface ItemUpsert {
  id: string;
  title?: string | null;
  categories?: string[] | null;
  attributes?: Record<string, unknown> | null;
  hidden?: boolean | null;
}

export interface UserUpsert {
  id: string;
  attributes?: Record<string, unknown> | null;
}

/**
 * Inserts or updates a batch of items (run inside a transaction). A field that is undefined or null
 * keeps its stored value on update and takes the column default on insert. Ids must be unique in
 * the batch. Two statements: create the missing rows, then update every row of the batch; the
 * second statement sees rows committed concurrently, so a racing upsert of the same id is never lost.
 */
export async function upsertItems(db: Db, items: ItemUpsert[]): Promise<ItemRow[]> {
  const payload = JSON.stringify(items);
  const recordset = `ROWS FROM (jsonb_to_recordset($1::jsonb)
    AS (id text, title text, categories varchar(128)[], attributes jsonb, hidden boolean))
    WITH ORDINALITY AS x(id, title, categories, attributes, hidden, ord)`;
  await db.$executeRawUnsafe(
    `INSERT INTO items (external_id) SELECT x.id FROM ${recordset} ORDER BY x.id ON CONFLICT (external_id) DO NOTHING`,
    payload,
  );
  return db.$queryRawUnsafe<ItemRow[]>(
    `WITH updated AS (
       UPDATE items t SET
         title = coalesce(x.title, t.title),
         categories = coalesce(x.categories, t.categories),
         attributes = coalesce(x.attributes, t.attributes),
         hidden = coalesce(x.hidden, t.hidden),
         updated_at = now()
       FROM ${recordset}
       WHERE t.external_id = x.id
       RETURNING t.*, x.ord)
     SELECT ${ITEM_COLUMNS} FROM updated ORDER BY ord`,
    payload,
  );
}

/** Inserts or updates a batch of users (run inside a transaction); see upsertItems. */
export async function upsertUsers(db: Db, users: UserUpsert[]): Promise<UserRow[]> {
  const payload = JSON.stringify(users);
  const recordset = `ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id text, attributes jsonb))
    WITH ORDINALITY AS x(id, attributes, ord)`;
  await db.$executeRawUnsafe(
    `INSERT INTO users (external_id) SELECT x.id FROM ${recordset} ORDER BY x.id ON CONFLICT (external_id) DO NOTHING`,
    payload,
  );
  return db.$queryRawUnsafe<UserRow[]>(
    `WITH updated AS (
       UPDATE users t SET attributes = coalesce(x.attributes, t.attributes), updated_at = now()
       FROM ${recordset}
       WHERE t.external_id = x.id
       RETURNING t.*, x.ord)
     SELECT ${USER_COLUMNS} FROM updated ORDER BY ord`,
    payload,
  );
}

export interface PopularityOptions {
  limit: number;
  category?: string | null;
  since?: Date | null;
  /** Weight per interaction kind; kinds absent weigh `defaultWeight`. */
  weights: Record<string, number>;
  defaultWeight?: number;
}

export interface PopularityRow {
  itemId: number;
  score: number;
  interactionCount: number;
}

/**
 * Items ranked by the weighted count of their interactions (optionally since a time and within a
 * category), hidden items excluded. Ties break on item id so pages are stable.
 */
export async function popularItems(db: Db, o: PopularityOptions): Promise<PopularityRow[]> {
  const kinds = Object.keys(o.weights);
  const weights = kinds.map((k) => o.weights[k]);
  return db.$queryRawUnsafe<PopularityRow[]>(
    `SELECT i.item_id AS "itemId",
            sum(coalesce(w.weight, $5::float8))::float8 AS score,
            count(*)::int AS "interactionCount"
     FROM interactions i
     JOIN items it ON it.id = i.item_id AND NOT it.hidden AND ($2::text IS NULL OR it.categories @> ARRAY[$2::varchar])
     LEFT JOIN unnest($3::text[], $4::float8[]) AS w(kind, weight) ON w.kind = i.kind::text
     WHERE $1::timestamptz IS NULL OR i.occurred_at >= $1::timestamptz
     GROUP BY i.item_id
     HAVING sum(coalesce(w.weight, $5::float8)) > 0
     ORDER BY score DESC, i.item_id
     LIMIT $6`,
    o.since ?? null,
    o.category ?? null,
    kinds,
    weights,
    o.defaultWeight ?? 1,
    o.limit,
  );
}
