import { Args, Int, Mutation, Parent, ResolveField, Resolver } from '@nestjs/graphql';
import { User } from '../catalog/dto/user.type.js';
import { RecordInteractionInput } from './dto/interaction.input.js';
import { InteractionConnection, RecordInteractionsResult } from './dto/interaction.type.js';
import { InteractionsService } from './interactions.service.js';
import { Requires } from '../auth/roles.js';

@Resolver()
@Requires('READER')
export class InteractionsResolver {
  constructor(private readonly service: InteractionsService) {}

  @Requires('WRITER')
  @Mutation(() => RecordInteractionsResult, {
    description:
      'Stores up to RECODER_MAX_BATCH_SIZE interactions in one transaction (all or nothing). Retries with the same eventId store nothing new.',
  })
  recordInteractions(
    @Args('interactions', { type: () => [RecordInteractionInput] }) interactions: RecordInteractionInput[],
  ): Promise<RecordInteractionsResult> {
    return this.service.record(interactions);
  }
}

@Resolver(() => User)
export class UserInteractionsResolver {
  constructor(private readonly service: InteractionsService) {}

  @ResolveField(() => InteractionConnection, { description: "The user's interactions, newest first." })
  interactions(
    @Parent() user: User,
    @Args('first', { type: () => Int, defaultValue: 20 }) first: number,
    @Args('after', { type: () => String, nullable: true }) after?: string,
  ): Promise<InteractionConnection> {
    return this.service.history(user.internalId, user.id, first, after);
  }
}
