import { Field, ID, InputType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';

@InputType({ description: 'Creates the item or updates the fields given; omitted fields keep their value.' })
export class UpsertItemInput {
  @Field(() => ID)
  id: string;

  @Field(() => String, { nullable: true })
  title?: string | null;

  @Field(() => [String], { nullable: true })
  categories?: string[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the attributes object.' })
  attributes?: Record<string, unknown> | null;

  @Field(() => Boolean, { nullable: true })
  hidden?: boolean | null;
}

@InputType()
export class ItemsFilter {
  @Field(() => String, { nullable: true, description: 'Only items in this category.' })
  category?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Only hidden (true) or only visible (false) items.' })
  hidden?: boolean | null;
}
