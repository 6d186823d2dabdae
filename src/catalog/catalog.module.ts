import { Module } from '@nestjs/common';
import { ItemsResolver } from './items.resolver.js';
import { ItemsService } from './items.service.js';
import { UsersResolver } from './users.resolver.js';
import { UsersService } from './users.service.js';

@Module({
  providers: [ItemsService, ItemsResolver, UsersService, UsersResolver],
  exports: [ItemsService, UsersService],
})
export class CatalogModule {}
