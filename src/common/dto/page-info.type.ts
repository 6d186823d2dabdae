import { Field, ID, Int, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'Cursor pagination state: pass endCursor as `after` to get the next page.' })
export class PageInfo {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

@ObjectType({ description: 'Result of a deletion.' })
export class DeletionResult {
  @Field(() => ID, { description: 'External id of what was deleted.' })
  id: string;

  @Field(() => Int, { description: 'Interactions removed with it.' })
  deletedInteractions: number;
}
