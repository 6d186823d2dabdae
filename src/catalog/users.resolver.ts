import { Args, ID, Mutation, Query, Resolver } from '@nestjs/graphql';
import { DeletionResult } from '../common/dto/page-info.type.js';
import { UpsertUserInput } from './dto/user.input.js';
import { User } from './dto/user.type.js';
import { UsersService } from './users.service.js';
import { Requires } from '../auth/roles.js';

@Resolver(() => User)
@Requires('READER')
export class UsersResolver {
  constructor(private readonly usersService: UsersService) {}

  @Query(() => User, { description: 'One user by id; NOT_FOUND if unknown.' })
  user(@Args('id', { type: () => ID }) id: string): Promise<User> {
    return this.usersService.get(id);
  }

  @Requires('WRITER')
  @Mutation(() => [User], { description: 'Creates or updates up to RECODER_MAX_BATCH_SIZE users in one transaction.' })
  upsertUsers(@Args('users', { type: () => [UpsertUserInput] }) users: UpsertUserInput[]): Promise<User[]> {
    return this.usersService.upsert(users);
  }

  @Requires('ADMIN')
  @Mutation(() => DeletionResult, { description: 'Privacy deletion: removes the user and all their interactions.' })
  deleteUser(@Args('userId', { type: () => ID }) userId: string): Promise<DeletionResult> {
    return this.usersService.delete(userId);
  }
}
