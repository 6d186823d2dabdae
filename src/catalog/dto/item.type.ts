import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { PageInfo } from '../../common/dto/page-info.type.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@ObjectType({ description: 'A catalog item (movie, product, article, ...).' })
export class Item {
  @Field(() => ID, { description: 'Your id for the item.' })
  id: string;

  @Field(() => String, { nullable: true })
  title: string | null;

  @Field(() => [String])
  categories: string[];

  @Field(() => GraphQLJSONObject)
  attributes: Record<string, unknown>;

  @Field({ description: 'Hidden items are kept but never recommended or listed as popular.' })
  hidden: boolean;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar)
  updatedAt: Date;

  /** Internal key (the impression log); not exposed. */
  internalId?: number;
}

@ObjectType()
export class ItemConnection {
  @Field(() => [Item])
  nodes: Item[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@ObjectType({ description: 'An item with its popularity score.' })
export class PopularItem {
  @Field(() => Item)
  item: Item;

  @Field(() => Float, { description: 'Sum of interaction weights (by kind) in the window.' })
  score: number;

  @Field(() => Int, { description: 'Number of interactions in the window.' })
  interactionCount: number;
}
