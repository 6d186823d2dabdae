import { Args, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { ModelVersion } from '../registry/dto/model-version.type.js';
import { ModelRegistry } from '../registry/model-registry.service.js';
import { TrainingStatus, TrainModelInput, TrainingRun } from './dto/training.types.js';
import type { TrainingRunRow } from './training-runs.queries.js';
import { TrainingRunsService } from './training-runs.service.js';
import { Requires } from '../auth/roles.js';

@Resolver(() => TrainingRun)
@Requires('READER')
export class TrainingResolver {
  constructor(
    private readonly runs: TrainingRunsService,
    private readonly registry: ModelRegistry,
  ) {}

  @Requires('ADMIN')
  @Mutation(() => TrainingRun, {
    description:
      "Queues a training run on the database's current interactions; a worker (`npm run worker`, or the API's worker thread) runs it. Poll `trainingRun(id)` for progress.",
  })
  async trainModel(@Args('input') input: TrainModelInput): Promise<TrainingRunRow> {
    return this.runs.trainModel(input);
  }

  @Requires('ADMIN')
  @Mutation(() => TrainingRun, {
    description:
      'Cancels a run: a QUEUED one at once, a RUNNING one at its next training step (no version is stored). ALREADY_FINISHED if it ended.',
  })
  async cancelTrainingRun(@Args('id', { type: () => Int }) id: number): Promise<TrainingRunRow> {
    return this.runs.cancel(id);
  }

  @Query(() => TrainingRun, { description: 'One training run with its progress; NOT_FOUND if unknown.' })
  async trainingRun(@Args('id', { type: () => Int }) id: number): Promise<TrainingRunRow> {
    return this.runs.run(id);
  }

  @Query(() => [TrainingRun], { description: 'Training runs, newest first.' })
  async trainingRuns(
    @Args('first', { type: () => Int, defaultValue: 20 }) first: number,
    @Args('status', { type: () => TrainingStatus, nullable: true }) status?: TrainingStatus | null,
  ): Promise<TrainingRunRow[]> {
    return this.runs.runs(first, status);
  }

  @ResolveField(() => ModelVersion, { nullable: true, description: 'The version the run stored.' })
  async modelVersion(@Parent() run: TrainingRunRow): Promise<ModelVersion | null> {
    if (run.versionId === null) return null;
    const [version, active] = await Promise.all([this.registry.get(run.versionId), this.registry.activeId()]);
    return version ? { ...version, active: version.id === active } : null;
  }
}
