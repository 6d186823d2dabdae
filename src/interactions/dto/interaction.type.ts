import { Field, Float, ID, Int, ObjectType } from '@nestjs/graphql';
import { InteractionKind } from '../../common/interaction-kind.js';
import { Item } from '../../catalog/dto/item.type.js';
import { PageInfo } from '../../common/dto/page-info.type.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@ObjectType({ description: 'One stored event between a user and an item.' })
export class Interaction {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  userId: string;

  @Field(() => ID)
  itemId: string;

  @Field(() => InteractionKind)
  kind: InteractionKind;

  @Field(() => Float)
  value: number;

  @Field(() => DateTimeScalar)
  occurredAt: Date;

  @Field(() => String, { nullable: true })
  eventId: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "The recommendation the event was attributed to by the client (recordInteractions' recommendationId).",
  })
  recommendationId: string | null;

  @Field(() => Item)
  item: Item;
}

@ObjectType()
export class InteractionConnection {
  @Field(() => [Interaction])
  nodes: Interaction[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@ObjectType()
export class RecordInteractionsResult {
  @Field(() => [Interaction], { description: 'The interactions stored by this call, in input order.' })
  stored: Interaction[];

  @Field(() => Int, { description: 'Events skipped because their eventId was already stored (retries).' })
  duplicates: number;

  @Field(() => Int, { description: 'Users created on the fly.' })
  createdUsers: number;

  @Field(() => Int, { description: 'Items created on the fly (only when the server allows it).' })
  createdItems: number;
}
