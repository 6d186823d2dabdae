import { Inject, Injectable } from '@nestjs/common';
import { DomainError, ErrorCode, notFound } from '../common/domain-error.js';
import { checkId } from '../common/validation.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgPool } from '../database/pg-pool.js';
import type { ItemImageInfo } from './dto/item-image.type.js';
import { ImageRejected } from './image-decode.js';
import { deleteItemImage, encodePng, itemImageMetasByExternalIds, itemImagePixels, upsertItemImage, type ItemImageMeta } from './images.queries.js';
import { normaliseImage, parseImageString } from './normalise.js';
import { RequestBatches } from './request-batch.js';

/** setItemImage / removeItemImage / Item.image: validation, normalisation (src/images/normalise.ts), item_images. */
@Injectable()
export class ItemImagesService {
  private readonly batches = new RequestBatches();

  constructor(
    private readonly pool: PgPool,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /**
   * Normalises and stores an item's image (replacing any previous one). NOT_FOUND (itemId) for an
   * unknown item; BAD_USER_INPUT (image) for anything wrong with the image; nothing is written on error.
   */
  async set(itemId: string, image: string): Promise<ItemImageInfo> {
    checkId('itemId', itemId);
    const { size, channels, maxBytes } = this.env.images;
    const bytes = rejectedAsInput(() => parseImageString(image, maxBytes), maxBytes);
    const id = await this.internalId(itemId);
    // Decoding is synchronous CPU work (up to a 4096×4096 image), done only for an existing item.
    const normalised = rejectedAsInput(() => normaliseImage(bytes, { size, channels, maxBytes }), maxBytes);
    const stored = await upsertItemImage(this.pool, id, normalised);
    if (!stored) throw notFound('Item', itemId, 'itemId'); // deleted meanwhile
    return stored;
  }

  /** Deletes an item's image: true when it had one, false when not; NOT_FOUND for an unknown item. */
  async remove(itemId: string): Promise<boolean> {
    checkId('itemId', itemId);
    return deleteItemImage(this.pool, await this.internalId(itemId));
  }

  /** The image of an item (by external id), batched per request. */
  async metaFor(context: object, externalId: string): Promise<ItemImageInfo | null> {
    const batch = this.batches.get<string, ItemImageMeta>(context, 'meta', (ids) => itemImageMetasByExternalIds(this.pool, ids));
    return (await batch.load(externalId)) ?? null;
  }

  /** The stored pixels of an item (by internal id) as a base64 PNG, batched per request; null when it has no image (any more). */
  async pngFor(context: object, itemId: number): Promise<string | null> {
    const batch = this.batches.get<number, { size: number; channels: number; pixels: Buffer }>(context, 'pixels', (ids) => itemImagePixels(this.pool, ids));
    const image = await batch.load(itemId);
    return image ? encodePng(image.pixels, image.size, image.channels).toString('base64') : null;
  }

  private async internalId(externalId: string): Promise<number> {
    const { rows } = await this.pool.query<{ id: number }>('SELECT id FROM items WHERE external_id = $1', [externalId]);
    if (rows.length === 0) throw notFound('Item', externalId, 'itemId');
    return rows[0].id;
  }
}

function rejectedAsInput<T>(fn: () => T, maxBytes: number): T {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof ImageRejected)) throw error;
    throw new DomainError(ErrorCode.BAD_USER_INPUT, `image: ${error.message}`, 'image', {
      reason: error.reason,
      ...(error.reason === 'too-large' ? { max: maxBytes } : {}),
    });
  }
}
