import { Module } from '@nestjs/common';
import { ItemImageInfoResolver, ItemImagesResolver } from './item-images.resolver.js';
import { ItemImagesService } from './item-images.service.js';

/** Item images: upload / import (decoded and normalised in worker threads), stored in Postgres, `Item.image`. */
@Module({
  providers: [ItemImagesService, ItemImagesResolver, ItemImageInfoResolver],
  exports: [ItemImagesService],
})
export class ImagesModule {}
