import { Module } from '@nestjs/common';
import { HistoryCache } from './history-cache.service.js';
import { ItemCache } from './item-cache.service.js';
import { ItemsResolver } from './items.resolver.js';
import { ItemsService } from './items.service.js';
import { OverviewResolver } from './overview.resolver.js';
import { OverviewService } from './overview.service.js';
import { UsersResolver } from './users.resolver.js';
import { UsersService } from './users.service.js';

@Module({
  providers: [
    ItemCache,
    HistoryCache,
    ItemsService,
    ItemsResolver,
    UsersService,
    UsersResolver,
    OverviewService,
    OverviewResolver,
  ],
  exports: [ItemCache, HistoryCache, ItemsService, UsersService],
})
export class CatalogModule {}
