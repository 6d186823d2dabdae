import { Args, Context, ID, Mutation, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { Requires } from '../auth/roles.js';
import { Item } from '../catalog/dto/item.type.js';
import { ItemImageInfo } from './dto/item-image.type.js';
import { ItemImagesService } from './item-images.service.js';

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

  @ResolveField(() => String, {
    nullable: true,
    description: 'The stored (normalised) pixels as a base64 PNG (8-bit grayscale or RGB), encoded when asked for.',
  })
  png(@Parent() image: ItemImageInfo, @Context() context: object): Promise<string | null> {
    return this.images.pngFor(context, image.itemId);
  }
}
