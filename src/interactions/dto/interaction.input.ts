import { Field, Float, ID, InputType } from '@nestjs/graphql';
import { InteractionKind } from '../../common/interaction-kind.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@InputType()
export class RecordInteractionInput {
  @Field(() => ID, { description: 'Unknown users are created.' })
  userId: string;

  @Field(() => ID, { description: 'Must exist unless the server sets RECODER_CREATE_UNKNOWN_ITEMS.' })
  itemId: string;

  @Field(() => InteractionKind, { defaultValue: InteractionKind.IMPLICIT })
  kind: InteractionKind;

  @Field(() => Float, { nullable: true, description: 'Rating or weight; defaults to 1.' })
  value?: number | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Defaults to the time the server stores it.' })
  occurredAt?: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'Idempotency key: an event whose eventId is already stored is skipped, so retries are safe.',
  })
  eventId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description:
      'The `recommendationId` of the answer that showed the item, if the event followed a recommendation: attributes it to that impression ' +
      '(online metrics, experiments). Without it, an event on an item shown to the same user within the attribution window is attributed anyway.',
  })
  recommendationId?: string | null;
}
