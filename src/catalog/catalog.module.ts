import { Module } from '@nestjs/common';
import { ItemCache } from './item-cache.service.js';
import { ItemsResolver } from './items.resolver.js';
import { ItemsService } from './items.service.js';
import { OverviewResolver } from './overview.resolver.js';
import { OverviewService } from './overview.service.js';
import { UsersResolver } from './users.resolver.js';
import { UsersService } from './users.service.js';

@Module({
  providers: [ItemCache, ItemsService, ItemsResolver, UsersService, UsersResolver, OverviewService, OverviewResolver],
  exports: [ItemCache, ItemsService, UsersService],
})
export class CatalogModule {}
