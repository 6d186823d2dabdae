import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { ModelKind } from '../model-kind.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

@ObjectType({ description: 'A trained model version (weights are not exposed).' })
export class ModelVersion {
  @Field(() => Int)
  id: number;

  @Field()
  name: string;

  @Field(() => ModelKind)
  kind: ModelKind;

  @Field(() => GraphQLJSONObject)
  hyperparameters: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { description: 'Metrics per split, e.g. { validation: { "ndcg@100": 0.44 } }.' })
  metrics: Record<string, unknown>;

  @Field(() => Float, { description: 'Interactions the version was trained from (the data snapshot).' })
  interactionCount: number;

  @Field(() => DateTimeScalar, { nullable: true, description: 'The latest interaction time in the training data.' })
  dataLatestAt: Date | null;

  @Field(() => Int)
  weightsBytes: number;

  @Field(() => Float)
  trainingSeconds: number;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When the version was last activated.' })
  activatedAt: Date | null;

  @Field(() => Boolean, { description: 'Whether this is the active version.' })
  active: boolean;
}
