/**
 * item_images on plain `pg` (the server's PgPool, scripts' clients): the storage contract of the
 * convolutional item autoencoder. A row holds one item's picture as `size`×`size` pixels of
 * `channels` 1 (grayscale) or 3 (RGB), `pixels` = size·size·channels uint8 bytes, row-major HWC
 * (a CHECK constraint enforces the length). Every change NOTIFYs "recoder_item_images_changed"
 * with payload "*" (statement-level triggers, migration 20261128100126_add_item_images).
 */
import pg from 'pg';
import pngjs from 'pngjs';
import type { ImageType } from './image-decode.js';

/** The channel the item_images triggers notify on (payload "*"). */
export const ITEM_IMAGES_CHANGED_CHANNEL = 'recoder_item_images_changed';

export type Queryable = pg.Pool | pg.ClientBase;

/** What is stored for one item (see NormalisedImage). */
export interface StoredImage {
  size: number;
  channels: number;
  pixels: Uint8Array;
  sourceType: ImageType;
  sourceBytes: number;
}

/** A stored image without its pixels. */
export interface ItemImageMeta {
  /** Internal items.id. */
  itemId: number;
  size: number;
  channels: number;
  sourceType: string;
  sourceBytes: number;
  updatedAt: Date;
}

export interface ItemImagesBatch {
  /** Internal items.id of each image, in the order of `pixels`. */
  itemIds: number[];
  /** The items' external ids, same order. */
  externalIds: string[];
  size: number;
  channels: number;
  /** n·size·size·channels bytes: image k is the slice [k·size·size·channels, (k+1)·size·size·channels), HWC. */
  pixels: Uint8Array;
}

export interface ReadItemImagesOptions {
  /** Only these items (internal ids; the result keeps their order, skipping items without an image of the shape). Default: every item, by id. */
  itemIds?: number[];
  /** The shape to read; images stored with another size or channel count (an older RECODER_IMAGE_* setting) are skipped.
   * Default: the most common stored shape (the larger size, then more channels, on a tie). */
  size?: number;
  channels?: number;
  /** Rows per query (default 2,000). */
  pageSize?: number;
}

const META_COLUMNS = `item_id AS "itemId", size, channels, source_type AS "sourceType", source_bytes AS "sourceBytes", updated_at AS "updatedAt"`;

/**
 * Reads the stored images of one shape as a single tensor-ready buffer, in pages of `pageSize`
 * rows (keyset on item id, or chunks of `itemIds`). Pages are separate statements: on a pool,
 * an image changed while it reads may be seen in either state (listen on
 * ITEM_IMAGES_CHANGED_CHANNEL to know when to read again). With no image of the shape, `itemIds`
 * is empty and `size`/`channels` are the requested ones (0 when none was requested and nothing is stored).
 */
export async function readItemImages(pool: Queryable, options: ReadItemImagesOptions = {}): Promise<ItemImagesBatch> {
  const pageSize = options.pageSize ?? 2000;
  let size = options.size;
  let channels = options.channels;
  if (size === undefined || channels === undefined) {
    const { rows } = await pool.query<{ size: number; channels: number }>(
      `SELECT size, channels FROM item_images
        WHERE ($1::int IS NULL OR size = $1) AND ($2::int IS NULL OR channels = $2)
        GROUP BY size, channels ORDER BY count(*) DESC, size DESC, channels DESC LIMIT 1`,
      [size ?? null, channels ?? null],
    );
    size ??= rows[0]?.size ?? 0;
    channels ??= rows[0]?.channels ?? 0;
  }
  const itemIds: number[] = [];
  const externalIds: string[] = [];
  const chunks: Buffer[] = [];
  type Row = { id: number; external_id: string; pixels: Buffer };
  const take = (rows: Row[]) => {
    for (const r of rows) {
      itemIds.push(r.id);
      externalIds.push(r.external_id);
      chunks.push(r.pixels);
    }
  };
  if (options.itemIds) {
    const wanted = [...new Set(options.itemIds)];
    for (let start = 0; start < wanted.length; start += pageSize) {
      const ids = wanted.slice(start, start + pageSize);
      const { rows } = await pool.query<Row>(
        `SELECT im.item_id AS id, i.external_id, im.pixels
           FROM unnest($3::int[]) WITH ORDINALITY AS w(id, ord)
           JOIN item_images im ON im.item_id = w.id JOIN items i ON i.id = im.item_id
          WHERE im.size = $1 AND im.channels = $2 ORDER BY w.ord`,
        [size, channels, ids],
      );
      take(rows);
    }
  } else {
    let after = -1;
    for (;;) {
      const { rows } = await pool.query<Row>(
        `SELECT im.item_id AS id, i.external_id, im.pixels FROM item_images im JOIN items i ON i.id = im.item_id
          WHERE im.size = $1 AND im.channels = $2 AND im.item_id > $3 ORDER BY im.item_id LIMIT $4`,
        [size, channels, after, pageSize],
      );
      take(rows);
      if (rows.length < pageSize) break;
      after = rows[rows.length - 1].id;
    }
  }
  const pixels = new Uint8Array(itemIds.length * size * size * channels);
  let offset = 0;
  for (const c of chunks) {
    pixels.set(c, offset);
    offset += c.length;
  }
  return { itemIds, externalIds, size, channels, pixels };
}

/**
 * Stores (inserts or replaces) the image of the item with internal id `itemId`. Returns null, and
 * writes nothing, when there is no such item (also when it is deleted concurrently).
 */
export async function upsertItemImage(
  db: Queryable,
  itemId: number,
  image: StoredImage,
): Promise<ItemImageMeta | null> {
  checkShape(image);
  try {
    const { rows } = await db.query<ItemImageMeta>(
      `INSERT INTO item_images (item_id, size, channels, pixels, source_type, source_bytes)
       SELECT i.id, $2, $3, $4, $5, $6 FROM items i WHERE i.id = $1
       ON CONFLICT (item_id) DO UPDATE SET size = EXCLUDED.size, channels = EXCLUDED.channels, pixels = EXCLUDED.pixels,
         source_type = EXCLUDED.source_type, source_bytes = EXCLUDED.source_bytes, updated_at = now()
       RETURNING ${META_COLUMNS}`,
      [itemId, image.size, image.channels, toBuffer(image.pixels), image.sourceType, image.sourceBytes],
    );
    return rows[0] ?? null;
  } catch (error) {
    if ((error as { code?: string }).code === '23503') return null; // the item went away meanwhile
    throw error;
  }
}

/**
 * Stores a batch of images in one statement (the import's batches). Items that do not exist are
 * skipped; returns the internal ids stored. Ids must be unique in the batch.
 */
export async function upsertItemImages(
  db: Queryable,
  images: { itemId: number; image: StoredImage }[],
): Promise<number[]> {
  if (images.length === 0) return [];
  images.forEach(({ image }) => checkShape(image));
  const { rows } = await db.query<{ itemId: number }>(
    `INSERT INTO item_images (item_id, size, channels, pixels, source_type, source_bytes)
     SELECT x.item_id, x.size, x.channels, x.pixels, x.source_type, x.source_bytes
       FROM unnest($1::int[], $2::int[], $3::smallint[], $4::bytea[], $5::varchar[], $6::int[])
            AS x(item_id, size, channels, pixels, source_type, source_bytes)
       JOIN items i ON i.id = x.item_id
      ORDER BY x.item_id
     ON CONFLICT (item_id) DO UPDATE SET size = EXCLUDED.size, channels = EXCLUDED.channels, pixels = EXCLUDED.pixels,
       source_type = EXCLUDED.source_type, source_bytes = EXCLUDED.source_bytes, updated_at = now()
     RETURNING item_id AS "itemId"`,
    [
      images.map((x) => x.itemId),
      images.map((x) => x.image.size),
      images.map((x) => x.image.channels),
      images.map((x) => toBuffer(x.image.pixels)),
      images.map((x) => x.image.sourceType),
      images.map((x) => x.image.sourceBytes),
    ],
  );
  return rows.map((r) => r.itemId);
}

/** Deletes the image of the item with internal id `itemId`; false when it had none. */
export async function deleteItemImage(db: Queryable, itemId: number): Promise<boolean> {
  const result = await db.query('DELETE FROM item_images WHERE item_id = $1', [itemId]);
  return (result.rowCount ?? 0) > 0;
}

/** Metadata (no pixels) of the stored images of the given items, keyed by external id. */
export async function itemImageMetasByExternalIds(
  db: Queryable,
  externalIds: readonly string[],
): Promise<Map<string, ItemImageMeta>> {
  const { rows } = await db.query<ItemImageMeta & { externalId: string }>(
    `SELECT i.external_id AS "externalId", im.item_id AS "itemId", im.size, im.channels, im.source_type AS "sourceType",
            im.source_bytes AS "sourceBytes", im.updated_at AS "updatedAt"
       FROM items i JOIN item_images im ON im.item_id = i.id
      WHERE i.external_id = ANY($1::text[])`,
    [externalIds],
  );
  return new Map(rows.map(({ externalId, ...meta }) => [externalId, meta]));
}

/** Stored pixels (with their shape) of the given items, keyed by internal id. */
export async function itemImagePixels(
  db: Queryable,
  itemIds: readonly number[],
): Promise<Map<number, { size: number; channels: number; pixels: Buffer }>> {
  const { rows } = await db.query<{ itemId: number; size: number; channels: number; pixels: Buffer }>(
    'SELECT item_id AS "itemId", size, channels, pixels FROM item_images WHERE item_id = ANY($1::int[])',
    [itemIds],
  );
  return new Map(rows.map(({ itemId, ...image }) => [itemId, image]));
}

/**
 * Encodes size×size pixels of 1 (grayscale) or 3 (RGB) channels, row-major HWC uint8 (the stored
 * form, or a reconstruction clamped to 0..255), as an 8-bit PNG of colour type 0 or 2.
 */
export function encodePng(pixels: Uint8Array, size: number, channels: number): Buffer {
  if (channels !== 1 && channels !== 3) throw new Error(`encodePng: channels must be 1 or 3, got ${channels}`);
  if (!Number.isInteger(size) || size < 1) throw new Error(`encodePng: bad size ${size}`);
  if (pixels.length !== size * size * channels)
    throw new Error(`encodePng: expected ${size * size * channels} bytes, got ${pixels.length}`);
  const colorType = channels === 1 ? 0 : 2;
  return pngjs.PNG.sync.write({ width: size, height: size, data: toBuffer(pixels) } as pngjs.PNG, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
    bitDepth: 8,
  });
}

function checkShape(image: StoredImage): void {
  if (
    (image.channels !== 1 && image.channels !== 3) ||
    image.pixels.length !== image.size * image.size * image.channels
  ) {
    throw new Error(
      `item image: ${image.pixels.length} bytes do not make ${image.size}×${image.size}×${image.channels}`,
    );
  }
}

function toBuffer(pixels: Uint8Array): Buffer {
  return Buffer.isBuffer(pixels) ? pixels : Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
}
