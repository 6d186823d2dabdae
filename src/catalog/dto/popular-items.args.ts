import { ArgsType, Field, Float, InputType, Int } from '@nestjs/graphql';
import { InteractionKind } from '../../common/interaction-kind.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@InputType({ description: 'How much one interaction of a kind counts towards popularity.' })
export class KindWeightInput {
  @Field(() => InteractionKind)
  kind: InteractionKind;

  @Field(() => Float)
  weight: number;
}

@ArgsType()
export class PopularItemsArgs {
  @Field(() => Int, { defaultValue: 20 })
  limit: number;

  @Field(() => String, { nullable: true, description: 'Only items in this category.' })
  category?: string | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Only count interactions at or after this time.' })
  since?: Date | null;

  @Field(() => [KindWeightInput], {
    nullable: true,
    description:
      'Weight per kind (kinds not listed count 0). Default: the server setting, every kind 1 unless configured.',
  })
  kindWeights?: KindWeightInput[] | null;
}

@ArgsType()
export class ItemsArgs {
  @Field(() => Int, { defaultValue: 20 })
  first: number;

  @Field(() => String, { nullable: true })
  after?: string | null;
}
