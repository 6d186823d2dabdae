import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { DomainError, ErrorCode, notFound } from '../common/domain-error.js';
import { checkId } from '../common/validation.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { PgPool } from '../database/pg-pool.js';
import type { ItemImageInfo } from './dto/item-image.type.js';
import { ImageDecodePool, ImageDecoderBusy } from './decode-pool.js';
import { ImageRejected } from './image-decode.js';
import {
  deleteItemImage,
  encodePng,
  itemImageMetasByExternalIds,
  itemImagePixels,
  upsertItemImage,
  type ItemImageMeta,
} from './images.queries.js';
import { parseImageString, type NormalisedImage, type NormaliseOptions } from './normalise.js';
import { RequestBatches } from './request-batch.js';

/** setItemImage / removeItemImage / Item.image: validation, normalisation (src/images/normalise.ts), item_images. */
@Injectable()
export class ItemImagesService implements OnModuleDestroy {
  private readonly batches = new RequestBatches();
  /** Decoding runs in a worker thread (one per API process, started on first upload), off the event loop. */
  private readonly decoder = new ImageDecodePool({ threads: 1, maxQueue: 32, timeoutMs: 15_000 });

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
    // Decoding is CPU work (up to a 4096×4096 image: seconds), done only for an existing item, in the decoder thread.
    const normalised = await this.decode(bytes, { size, channels, maxBytes });
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
    const batch = this.batches.get<string, ItemImageMeta>(context, 'meta', (ids) =>
      itemImageMetasByExternalIds(this.pool, ids),
    );
    return (await batch.load(externalId)) ?? null;
  }

  /** The stored pixels of an item (by internal id) as a base64 PNG, batched per request; null when it has no image (any more). */
  async pngFor(context: object, itemId: number): Promise<string | null> {
    const batch = this.batches.get<number, { size: number; channels: number; pixels: Buffer }>(
      context,
      'pixels',
      (ids) => itemImagePixels(this.pool, ids),
    );
    const image = await batch.load(itemId);
    return image ? encodePng(image.pixels, image.size, image.channels).toString('base64') : null;
  }

  private async decode(bytes: Uint8Array, options: NormaliseOptions): Promise<NormalisedImage> {
    try {
      return await this.decoder.normalise(bytes, options);
    } catch (error) {
      if (error instanceof ImageDecoderBusy) {
        throw new DomainError(ErrorCode.RATE_LIMITED, `image: ${error.message}; retry in a moment`, 'image', {
          retryAfterSeconds: 1,
        });
      }
      throw asInputError(error, options.maxBytes);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.decoder.destroy();
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
    throw asInputError(error, maxBytes);
  }
}

/** An ImageRejected as BAD_USER_INPUT naming `image` (with its reason); anything else unchanged. */
function asInputError(error: unknown, maxBytes: number): unknown {
  if (!(error instanceof ImageRejected)) return error;
  return new DomainError(ErrorCode.BAD_USER_INPUT, `image: ${error.message}`, 'image', {
    reason: error.reason,
    ...(error.reason === 'too-large' ? { max: maxBytes } : {}),
  });
}
