import { Args, Int, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Requires } from '../auth/roles.js';
import { Experiment, ExperimentArm, ExperimentArmInput, OnlineMetrics } from './dto/experiments.types.js';
import { ExperimentsService } from './experiments.service.js';
import { DateTimeScalar } from '../common/date-time.scalar.js';

/**
 * Declared costs (src/graphql/query-cost.ts): each computes online metrics over a time range's
 * impressions in SQL, whatever is selected, so they cost as much as a large page.
 */
export const ONLINE_METRICS_COST = 100;
export const EXPERIMENT_ARMS_COST = 200;

@Resolver(() => Experiment)
@Requires('READER')
export class ExperimentsResolver {
  constructor(private readonly service: ExperimentsService) {}

  @Query(() => OnlineMetrics, {
    complexity: ONLINE_METRICS_COST,
    description:
      'Online metrics of the impressions a version served in [since, until) (until: now; at most 400 days): impressions, CTR@k, conversion per ' +
      'interaction kind, weighted conversion, catalog coverage and fallback share, with 95 % intervals (Wilson for proportions). docs/experiments.md.',
  })
  onlineMetrics(
    @Args('versionId', { type: () => Int }) versionId: number,
    @Args('since', { type: () => DateTimeScalar }) since: Date,
    @Args('until', { type: () => DateTimeScalar, nullable: true }) until?: Date | null,
    @Args('k', { type: () => Int, defaultValue: 10, description: 'CTR@k: clicks on the first k items (1..1000).' })
    k = 10,
  ): Promise<OnlineMetrics> {
    return this.service.versionMetrics(versionId, since, until, k);
  }

  @Query(() => Experiment, { nullable: true, description: 'An experiment (null if unknown).' })
  experiment(@Args('id', { type: () => Int }) id: number): Promise<Experiment | null> {
    return this.service.get(id);
  }

  @Query(() => [Experiment], { description: 'Experiments, newest first.' })
  experiments(@Args('limit', { type: () => Int, defaultValue: 20 }) limit: number): Promise<Experiment[]> {
    return this.service.list(limit);
  }

  @Requires('ADMIN')
  @Mutation(() => Experiment, {
    description:
      'Splits the users of a slot (only "default") between model versions, sticky by a hash of the user id (or of the sessionId of ' +
      'recommendationsForHistory); arm 0 is the control. Every API process serves every arm. CONFLICT if an experiment already runs in the slot. ' +
      'Activating a version in the slot outside stopExperiment stops the experiment (stopReason says so).',
  })
  startExperiment(
    @Args('arms', { type: () => [ExperimentArmInput] }) arms: ExperimentArmInput[],
    @Args('slot', { type: () => String, defaultValue: 'default' }) slot: string,
    @Args('name', { type: () => String, nullable: true }) name?: string | null,
  ): Promise<Experiment> {
    return this.service.start(slot, arms, name);
  }

  @Requires('ADMIN')
  @Mutation(() => Experiment, {
    description:
      'Stops a running experiment; with a winner (one of its versions), activates it. ALREADY_FINISHED if it was stopped.',
  })
  stopExperiment(
    @Args('id', { type: () => Int }) id: number,
    @Args('winner', { type: () => Int, nullable: true }) winner?: number | null,
  ): Promise<Experiment> {
    return this.service.stop(id, winner);
  }

  @ResolveField(() => [ExperimentArm], {
    complexity: EXPERIMENT_ARMS_COST,
    description: "Each arm's online metrics over the experiment and its difference to the control (95 % intervals).",
  })
  arms(
    @Parent() e: Experiment,
    @Args('k', { type: () => Int, defaultValue: 10, description: 'CTR@k (1..1000).' }) k: number,
  ): Promise<ExperimentArm[]> {
    return this.service.arms(e, k);
  }
}
