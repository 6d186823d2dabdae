import { Field, ID, InputType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

@InputType({ description: 'Creates the user or replaces the attributes given.' })
export class UpsertUserInput {
  @Field(() => ID)
  id: string;

  @Field(() => GraphQLJSONObject, { nullable: true })
  attributes?: Record<string, unknown> | null;
}
