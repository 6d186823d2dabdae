import { Module } from '@nestjs/common';
import { InteractionsResolver, UserInteractionsResolver } from './interactions.resolver.js';
import { InteractionsService } from './interactions.service.js';

@Module({
  providers: [InteractionsService, InteractionsResolver, UserInteractionsResolver],
  exports: [InteractionsService],
})
export class InteractionsModule {}
