import { Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module.js';
import { InteractionsResolver, UserInteractionsResolver } from './interactions.resolver.js';
import { InteractionsService } from './interactions.service.js';

@Module({
  imports: [CatalogModule],
  providers: [InteractionsService, InteractionsResolver, UserInteractionsResolver],
  exports: [InteractionsService],
})
export class InteractionsModule {}
