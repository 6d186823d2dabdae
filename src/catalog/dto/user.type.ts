import { Field, ID, ObjectType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@ObjectType({ description: 'A user of your product. Interactions are a paginated field.' })
export class User {
  @Field(() => ID, { description: 'Your id for the user.' })
  id: string;

  @Field(() => GraphQLJSONObject)
  attributes: Record<string, unknown>;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;

  /** Internal key, used by field resolvers; not exposed. */
  internalId: number;
}
