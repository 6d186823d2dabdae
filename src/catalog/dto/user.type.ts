import { Field, GraphQLISODateTime, ID, ObjectType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

@ObjectType({ description: 'A user of your product. Interactions are a paginated field.' })
export class User {
  @Field(() => ID, { description: 'Your id for the user.' })
  id: string;

  @Field(() => GraphQLJSONObject)
  attributes: Record<string, unknown>;

  @Field(() => GraphQLISODateTime)
  createdAt: Date;

  @Field(() => GraphQLISODateTime)
  updatedAt: Date;

  /** Internal key, used by field resolvers; not exposed. */
  internalId: number;
}
