import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@ObjectType({ description: 'How much data the service holds.' })
export class CatalogStats {
  @Field(() => Float, { description: 'Users (with or without interactions).' })
  users: number;

  @Field(() => Float, { description: 'Catalog items, hidden ones included.' })
  items: number;

  @Field(() => Float, { description: 'Stored interactions.' })
  interactions: number;
}

@ObjectType({ description: 'Interactions stored in one hour.' })
export class IngestBucket {
  @Field(() => DateTimeScalar, { description: 'Start of the hour (UTC).' })
  hour: Date;

  @Field(() => Int, { description: 'Interactions stored in [hour, hour + 1 h), by the time the server stored them.' })
  interactions: number;
}
