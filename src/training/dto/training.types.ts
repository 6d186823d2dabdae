import { Field, Float, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import { ActivationPolicy, TrainingStatus } from '../../generated/prisma/enums.js';
import { ModelKind } from '../../registry/model-kind.js';
import { DateTimeScalar } from '../../common/date-time.scalar.js';

registerEnumType(TrainingStatus, {
  name: 'TrainingStatus',
  description: 'QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED (a QUEUED run can be CANCELLED directly).',
});
registerEnumType(ActivationPolicy, {
  name: 'ActivationPolicy',
  description:
    'What to do with the new version: NEVER activate it, activate it IF_BETTER than the active version (NDCG@100 on the same held-out users), ALWAYS, ' +
    'or start an EXPERIMENT against the active version (a share of the users, `experimentShare`; activated at once when none is active).',
});
export { ActivationPolicy, TrainingStatus };

@InputType({ description: 'A training request. Unset values take the model defaults (see docs/training.md).' })
export class TrainModelInput {
  @Field(() => ModelKind, {
    defaultValue: ModelKind.AUTO,
    description: 'What to train; AUTO (the default) chooses the model for the data.',
  })
  kind: ModelKind;

  @Field(() => ActivationPolicy, { defaultValue: ActivationPolicy.IF_BETTER })
  activate: ActivationPolicy;

  @Field(() => Int, {
    nullable: true,
    description:
      'Largest number of training epochs. VAE/DAE/AUTO: planned from the number of users (enough optimizer steps, early stopping on validation NDCG@100); AUTOREC 100; EASE has none.',
  })
  epochs?: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'activate: EXPERIMENT only: share of the users the new version serves in the experiment against the active version, in (0, 1); default 0.1.',
  })
  experimentShare?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'AUTO only: seconds the model search may take (default RECODER_AUTO_BUDGET_SECONDS, 900).',
  })
  budgetSeconds?: number | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Seed of initialisation, batch order and held-out items (default 1).',
  })
  seed?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'RATING interactions count as positives at ≥ this (default 3.5).',
  })
  minRating?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'EASE λ (default 500; AUTO: searched unless given) or AutoRec λ (default 30).',
  })
  lambda?: number | null;

  @Field(() => Int, { nullable: true, description: 'Held-out validation users (default 10 % of users, at most 500).' })
  validationUsers?: number | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'Model-specific settings. VAE/DAE: latentDim, hiddenUnits (list), batchSize, learningRate, dropout, weightDecay, patience (early-stopping epochs); VAE also annealCap, totalAnnealSteps. AUTO: latentDim, hiddenUnits of its autoencoders. AUTOREC: hidden, learningRate, batchSize, refitDecoder.',
  })
  hyperparameters?: Record<string, unknown> | null;
}

@ObjectType({ description: 'One finished epoch of a training run.' })
export class EpochPoint {
  @Field(() => Int)
  epoch: number;

  @Field(() => Float, { description: 'Mean training loss of the epoch.' })
  loss: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Validation metric after the epoch: NDCG@100 (VAE/DAE) or RMSE (AUTOREC).',
  })
  validation: number | null;

  @Field(() => Float, { description: 'Seconds of training in the epoch (validation excluded).' })
  seconds: number;

  @Field(() => String, { nullable: true, description: 'AUTO: the candidate the epoch belongs to (e.g. "Mult-DAE").' })
  candidate?: string | null;
}

@ObjectType({ description: 'One model an AUTO run tried, and how it did on the held-out users.' })
export class TrainingCandidate {
  @Field({ description: 'e.g. "EASE λ=250", "Mult-DAE", "EASE λ=125 + Mult-DAE".' })
  name: string;

  @Field({ description: 'ease, dae, vae or ensemble.' })
  kind: string;

  @Field({
    description:
      'TRAINED; STOPPED (time budget: its best epoch so far kept); SKIPPED (not trained, see reason); FAILED.',
  })
  status: string;

  @Field(() => Float, { nullable: true, description: 'Validation NDCG@100 (null when not trained).' })
  ndcg: number | null;

  @Field(() => GraphQLJSONObject, {
    description: 'Settings that define it: λ, batch size, epochs run and kept, blend weights.',
  })
  settings: Record<string, unknown>;

  @Field(() => Float)
  seconds: number;

  @Field(() => String, { nullable: true, description: 'Why it was skipped or stopped early.' })
  reason?: string | null;

  @Field(() => Boolean, { description: 'The candidate the run stored as its version.' })
  chosen: boolean;
}

@ObjectType({
  description: 'The new version and the version active when it finished, scored on the same held-out users.',
})
export class TrainingComparison {
  @Field({ description: 'The metric compared, e.g. "ndcg@100".' })
  metric: string;

  @Field(() => Float)
  candidate: number;

  @Field(() => Int, { nullable: true })
  activeVersionId: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Null when there was no active version or it cannot rank unseen users (AUTOREC).',
  })
  active: number | null;

  @Field(() => Int, { description: 'Held-out users scored.' })
  users: number;
}

@ObjectType({ description: 'A training run: queued by trainModel or a schedule, run by one worker.' })
export class TrainingRun {
  @Field(() => Int)
  id: number;

  @Field(() => ModelKind)
  kind: ModelKind;

  @Field(() => TrainingStatus)
  status: TrainingStatus;

  @Field(() => ActivationPolicy)
  activation: ActivationPolicy;

  @Field(() => GraphQLJSONObject, { description: 'The settings requested.' })
  hyperparameters: Record<string, unknown>;

  @Field({ description: 'API or SCHEDULE.' })
  trigger: string;

  @Field(() => Int, { description: 'Epochs finished so far.' })
  epoch: number;

  @Field(() => Int, {
    nullable: true,
    description: 'Epochs planned (null for EASE and AUTO; VAE/DAE: set once planned from the data).',
  })
  epochs: number | null;

  @Field(() => [EpochPoint], {
    description: 'Loss and validation metric per finished epoch, for plotting; grows while the run is in flight.',
  })
  history: EpochPoint[];

  @Field(() => Float, { description: 'Share of the run done, 0–1 (AUTO: across every candidate).' })
  progress: number;

  @Field(() => String, { nullable: true, description: 'What the run is doing now (AUTO: the candidate in training).' })
  stage: string | null;

  @Field(() => [TrainingCandidate], {
    description: 'AUTO: every candidate tried with its validation NDCG@100; the chosen one is marked.',
  })
  candidates: TrainingCandidate[];

  @Field(() => TrainingComparison, { nullable: true })
  comparison: TrainingComparison | null;

  @Field(() => String, { nullable: true, description: 'Why the new version was or was not activated.' })
  decision: string | null;

  @Field(() => Boolean)
  activated: boolean;

  @Field(() => Boolean)
  cancelRequested: boolean;

  @Field(() => String, { nullable: true })
  error: string | null;

  @Field(() => Int, { nullable: true, description: 'The version the run stored (when SUCCEEDED).' })
  versionId: number | null;

  @Field(() => String, { nullable: true, description: 'host:pid of the worker that ran it.' })
  worker: string | null;

  @Field(() => Float, { nullable: true, description: 'Seconds spent reading the interactions.' })
  dataSeconds: number | null;

  @Field(() => Float, { nullable: true, description: 'Seconds spent training and validating.' })
  trainingSeconds: number | null;

  @Field(() => DateTimeScalar)
  createdAt: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt: Date | null;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Last sign of life from the worker while RUNNING.' })
  heartbeatAt: Date | null;
}
