import { Args, Context, Extensions, ID, Mutation, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { Requires } from '../auth/roles.js';
import { Item } from '../catalog/dto/item.type.js';
import { ItemImageInfo } from './dto/item-image.type.js';
import { ItemImagesService } from './item-images.service.js';

/**
 * Query cost of an item's `image` (src/graphql/query-cost.ts: a scalar is 1): a lookup batched per
 * request, measured at about 20 µs per item on the event loop (about 2.5 × everything else an item
 * returns), so that a document of the largest allowed cost stays as fast to answer with images as
 * without.
 */
export const ITEM_IMAGE_COST = 25;
/** Query cost of `png`: a PNG encoded on the event loop per image (about 100 µs for 64×64 RGB). */
export const ITEM_IMAGE_PNG_COST = 100;

@Resolver(() => Item)
@Requires('READER')
export class ItemImagesResolver {
  constructor(private readonly images: ItemImagesService) {}

  @Requires('WRITER')
  @Mutation(() => ItemImageInfo, {
    description:
      "Sets an item's picture: a PNG or JPEG as base64 (optionally a data: URL), at most RECODER_MAX_IMAGE_BYTES encoded and 4096×4096 pixels. " +
      'It is stored normalised (centre-cropped square, RECODER_IMAGE_SIZE pixels, RECODER_IMAGE_CHANNELS channels) and replaces any previous one.',
  })
  setItemImage(
    @Args('itemId', { type: () => ID }) itemId: string,
    @Args('image') image: string,
  ): Promise<ItemImageInfo> {
    return this.images.set(itemId, image);
  }

  @Requires('WRITER')
  @Mutation(() => Boolean, { description: "Deletes an item's picture; false when it had none." })
  removeItemImage(@Args('itemId', { type: () => ID }) itemId: string): Promise<boolean> {
    return this.images.remove(itemId);
  }

  @Extensions({ cost: ITEM_IMAGE_COST })
  @ResolveField(() => ItemImageInfo, {
    nullable: true,
    description: 'The stored picture (setItemImage), null when the item has none.',
  })
  image(@Parent() item: Item, @Context() context: object): Promise<ItemImageInfo | null> {
    return this.images.metaFor(context, item.id);
  }
}

@Resolver(() => ItemImageInfo)
@Requires('READER')
export class ItemImageInfoResolver {
  constructor(private readonly images: ItemImagesService) {}

  @Extensions({ cost: ITEM_IMAGE_PNG_COST })
  @ResolveField(() => String, {
    nullable: true,
    description: 'The stored (normalised) pixels as a base64 PNG (8-bit grayscale or RGB), encoded when asked for.',
  })
  png(@Parent() image: ItemImageInfo, @Context() context: object): Promise<string | null> {
    return this.images.pngFor(context, image.itemId);
  }
}
