import { Field, Float, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { InteractionKind } from '../../common/interaction-kind.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

export enum ExperimentStatus {
  RUNNING = 'RUNNING',
  STOPPED = 'STOPPED',
}
registerEnumType(ExperimentStatus, { name: 'ExperimentStatus' });

@ObjectType({ description: 'A proportion with its 95 % Wilson score interval.' })
export class Proportion {
  @Field(() => Int)
  successes: number;

  @Field(() => Int)
  trials: number;

  @Field(() => Float, { nullable: true, description: 'successes / trials (null without trials).' })
  rate: number | null;

  @Field(() => Float, { description: 'Lower end of the 95 % Wilson score interval.' })
  low: number;

  @Field(() => Float, { description: 'Upper end of the 95 % Wilson score interval.' })
  high: number;
}

@ObjectType({ description: 'A mean with its 95 % normal interval (sample variance).' })
export class MeanValue {
  @Field(() => Int)
  n: number;

  @Field(() => Float, { nullable: true })
  mean: number | null;

  @Field(() => Float, { nullable: true })
  low: number | null;

  @Field(() => Float, { nullable: true })
  high: number | null;
}

@ObjectType({
  description:
    'Conversion of one interaction kind: impressions followed by at least one attributed interaction of the kind.',
})
export class KindConversion {
  @Field(() => InteractionKind)
  kind: InteractionKind;

  @Field(() => Float, {
    description: 'Its weight in `weightedConversion` (RECODER_POPULARITY_WEIGHTS; 1 when not listed).',
  })
  weight: number;

  @Field(() => Proportion)
  rate: Proportion;
}

@ObjectType({
  description:
    'Online metrics of the impressions in a scope (a version over a time range, or an experiment arm). docs/experiments.md defines each.',
})
export class OnlineMetrics {
  @Field(() => DateTimeScalar)
  since: Date;

  @Field(() => DateTimeScalar)
  until: Date;

  @Field(() => Int, { description: 'Recommendation answers recorded (after sampling).' })
  impressions: number;

  @Field(() => Int, { description: 'Distinct users and sessions among them.' })
  subjects: number;

  @Field(() => Int)
  k: number;

  @Field(() => Proportion, {
    description: 'CTR@k: impressions with an attributed interaction on an item shown at position ≤ k.',
  })
  ctr: Proportion;

  @Field(() => [KindConversion], {
    description: 'Per interaction kind that occurred (none listed: no attributed interaction).',
  })
  conversions: KindConversion[];

  @Field(() => MeanValue, {
    description: 'Mean per impression of its attributed interactions weighted by kind (RECODER_POPULARITY_WEIGHTS).',
  })
  weightedConversion: MeanValue;

  @Field(() => Int, { description: 'Interactions attributed to these impressions (by id or by the window).' })
  attributedInteractions: number;

  @Field(() => Int, { description: 'Of which carried the recommendationId.' })
  attributedById: number;

  @Field(() => Int, { description: 'Distinct items shown.' })
  itemsShown: number;

  @Field(() => Float, {
    nullable: true,
    description:
      'itemsShown / the visible catalog now (null for an empty catalog); no interval (not a sampled proportion).',
  })
  catalogCoverage: number | null;

  @Field(() => Proportion, { description: 'Share of answers that fell back to popularity.' })
  fallbackShare: Proportion;
}

@ObjectType({
  description:
    'An arm minus the control: estimate, 95 % interval, two-sided p-value, and whether the interval excludes 0.',
})
export class Difference {
  @Field(() => Float, { nullable: true })
  estimate: number | null;

  @Field(() => Float, { nullable: true })
  low: number | null;

  @Field(() => Float, { nullable: true })
  high: number | null;

  @Field(() => Float, { nullable: true })
  pValue: number | null;

  @Field()
  significant: boolean;
}

@ObjectType()
export class ExperimentArm {
  @Field(() => Int, { description: 'Arm number; 0 is the control.' })
  arm: number;

  @Field(() => Int)
  versionId: number;

  @Field(() => Float, { description: 'Relative share of the users.' })
  weight: number;

  @Field()
  control: boolean;

  @Field(() => OnlineMetrics, { description: 'Over the experiment so far (or its whole run once stopped).' })
  metrics: OnlineMetrics;

  @Field(() => Difference, {
    nullable: true,
    description: "CTR@k minus the control's (Newcombe hybrid score interval); null for the control.",
  })
  ctrDifference: Difference | null;

  @Field(() => Difference, {
    nullable: true,
    description: "weightedConversion minus the control's (Welch normal interval); null for the control.",
  })
  weightedConversionDifference: Difference | null;
}

@ObjectType({ description: 'An online experiment between model versions (docs/experiments.md).' })
export class Experiment {
  @Field(() => Int)
  id: number;

  @Field(() => String, { nullable: true })
  name: string | null;

  @Field()
  slot: string;

  @Field(() => ExperimentStatus)
  status: ExperimentStatus;

  @Field(() => DateTimeScalar)
  startedAt: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  stoppedAt: Date | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why it stopped: stopExperiment (and its winner), or a version activated outside it.',
  })
  stopReason: string | null;

  @Field(() => Int, { nullable: true })
  winnerVersionId: number | null;

  @Field(() => Int, { nullable: true, description: 'The training run that started it (activate: EXPERIMENT).' })
  trainingRunId: number | null;

  /** The arms as stored (versions and weights); the GraphQL field `arms` adds their metrics. */
  armsStored: { arm: number; versionId: number; weight: number }[];
}

@InputType()
export class ExperimentArmInput {
  @Field(() => Int)
  versionId: number;

  @Field(() => Float, { defaultValue: 1, description: 'Relative share of the users (> 0).' })
  weight: number;
}
