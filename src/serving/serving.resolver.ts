import { Args, Float, ID, Int, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { User } from '../catalog/dto/user.type.js';
import {
  AnomalyScore,
  Embedding,
  LatentSource,
  Reconstruction,
  ReconstructedImage,
  RecommendationFilter,
  Recommendations,
  SimilarItem,
  SimilarityKind,
  SimilarUser,
  SyntheticUser,
  UserAnomaly,
} from './dto/serving.types.js';
import { ReconstructionService } from './reconstruction.service.js';
import { RecommendationsService } from './recommendations.service.js';
import { SimilarityService } from './similarity.service.js';
import { SyntheticUsersService } from './synthetic-users.service.js';
import { Requires } from '../auth/roles.js';

@Resolver()
@Requires('READER')
export class ServingResolver {
  constructor(
    private readonly recs: RecommendationsService,
    private readonly similarity: SimilarityService,
    private readonly reconstructions: ReconstructionService,
    private readonly synthetic: SyntheticUsersService,
  ) {}

  @Query(() => Recommendations, {
    description:
      "Items for a user, ranked by the active model from the user's history as it is now. Seen and hidden items are excluded by default. " +
      'Falls back to popularity (source POPULARITY, with a reason) when no model is active, the user has no history the model knows, ' +
      'or the user id is unknown (a user never seen yet gets popular items, and is not created: recordInteractions or upsertUsers does that).',
  })
  recommendations(
    @Args('userId', { type: () => ID }) userId: string,
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
    @Args('filter', { type: () => RecommendationFilter, nullable: true }) filter?: RecommendationFilter,
  ): Promise<Recommendations> {
    return this.recs.recommendations(userId, limit, filter);
  }

  @Query(() => Recommendations, {
    description:
      'Recommendations for an anonymous session: a list of items (at most 1,000) treated as its history. `sessionId` (your id for the session) ' +
      'keeps the session in one arm of a running experiment and attributes its later events (docs/experiments.md).',
  })
  recommendationsForHistory(
    @Args('itemIds', { type: () => [ID] }) itemIds: string[],
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
    @Args('filter', { type: () => RecommendationFilter, nullable: true }) filter?: RecommendationFilter,
    @Args('sessionId', { type: () => ID, nullable: true }) sessionId?: string | null,
  ): Promise<Recommendations> {
    return this.recs.recommendationsForHistory(itemIds, limit, filter, sessionId);
  }

  @Query(() => [SimilarItem], {
    description:
      "Items closest (cosine) to the item: by the active model's item vectors (COLLABORATIVE), or by the active image autoencoder's embeddings (VISUAL: needs an image); hidden items excluded.",
  })
  similarItems(
    @Args('itemId', { type: () => ID }) itemId: string,
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
    @Args('by', { type: () => SimilarityKind, defaultValue: SimilarityKind.COLLABORATIVE }) by: SimilarityKind,
  ): Promise<SimilarItem[]> {
    return this.similarity.similarItems(itemId, limit, by);
  }

  @Query(() => ReconstructedImage, {
    description:
      "The item's image as the active image autoencoder decodes it (a PNG) and its error; NOT_IN_MODEL without an image.",
  })
  reconstructImage(@Args('itemId', { type: () => ID }) itemId: string): Promise<ReconstructedImage> {
    return this.reconstructions.reconstructImage(itemId);
  }

  @Query(() => [SimilarUser], {
    description: 'Users (as of the activation) whose encoded histories are closest to this user’s current one.',
  })
  similarUsers(
    @Args('userId', { type: () => ID }) userId: string,
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
  ): Promise<SimilarUser[]> {
    return this.similarity.similarUsers(userId, limit);
  }

  @Query(() => Reconstruction, {
    description:
      "The model's reconstruction of the user's history: a value per item (the given items, else the history's) and the reconstruction error.",
  })
  reconstruction(
    @Args('userId', { type: () => ID }) userId: string,
    @Args('itemIds', { type: () => [ID], nullable: true }) itemIds?: string[],
  ): Promise<Reconstruction> {
    return this.reconstructions.reconstruction(userId, itemIds);
  }

  @Query(() => Reconstruction, {
    description:
      "The model's reconstruction of an anonymous history (items, at most 1,000, read as recommendationsForHistory reads them): a value per item " +
      "(those of `valuesFor`, at most the page size, else every history item the model knows, in the order given), the history's error and its percentile among the users at activation.",
  })
  reconstructionForHistory(
    @Args('itemIds', { type: () => [ID] }) itemIds: string[],
    @Args('valuesFor', { type: () => [ID], nullable: true }) valuesFor?: string[],
  ): Promise<Reconstruction> {
    return this.reconstructions.reconstructionForHistory(itemIds, valuesFor);
  }

  @Query(() => AnomalyScore, {
    nullable: true,
    description:
      'Anomaly score of an anonymous history (items, at most 1,000) under the active model, as User.anomalyScore scores a user; null when the model knows none of the items.',
  })
  anomalyScoreForHistory(@Args('itemIds', { type: () => [ID] }) itemIds: string[]): Promise<AnomalyScore | null> {
    return this.reconstructions.anomalyScoreForHistory(itemIds);
  }

  @Query(() => Float, { description: 'Predicted rating (1–5) of an item for a user; AutoRec versions only.' })
  predictedRating(
    @Args('userId', { type: () => ID }) userId: string,
    @Args('itemId', { type: () => ID }) itemId: string,
  ): Promise<number> {
    return this.reconstructions.predictedRating(userId, itemId);
  }

  @Query(() => [UserAnomaly], {
    description:
      'Users with the highest reconstruction error when the active version was loaded (bots, shilling profiles).',
  })
  anomalousUsers(@Args('limit', { type: () => Int, defaultValue: 20 }) limit: number): Promise<UserAnomaly[]> {
    return this.reconstructions.anomalousUsers(limit);
  }

  @Query(() => Embedding, {
    description: "The user's vector (encoder mean of the current history) in the active model.",
  })
  userEmbedding(@Args('userId', { type: () => ID }) userId: string): Promise<Embedding> {
    return this.similarity.userEmbedding(userId);
  }

  @Query(() => Embedding, { description: "The item's vector (decoder weights) in the active model." })
  itemEmbedding(@Args('itemId', { type: () => ID }) itemId: string): Promise<Embedding> {
    return this.similarity.itemEmbedding(itemId);
  }

  @Query(() => [SyntheticUser], {
    description:
      'Synthetic users for load tests and demo data (Mult-VAE versions): latent vectors drawn from the prior N(0, I), decoded, and `itemsPerUser` ' +
      'distinct items per user sampled from the decoder’s softmax without replacement. count ≤ the page size, itemsPerUser ≤ 1,000 and ≤ the ' +
      "model's items; the same seed gives the same users (omitted: a random seed).",
  })
  sampleSyntheticUsers(
    @Args('count', { type: () => Int }) count: number,
    @Args('itemsPerUser', { type: () => Int }) itemsPerUser: number,
    @Args('seed', { type: () => Int, nullable: true }) seed?: number | null,
    @Args('latent', { type: () => LatentSource, defaultValue: LatentSource.PRIOR })
    latent: LatentSource = LatentSource.PRIOR,
  ): Promise<SyntheticUser[]> {
    return this.synthetic.sampleSyntheticUsers(count, itemsPerUser, seed, latent);
  }
}

@Resolver(() => User)
export class UserAnomalyResolver {
  constructor(private readonly reconstructions: ReconstructionService) {}

  @ResolveField(() => AnomalyScore, {
    nullable: true,
    description: 'Anomaly score of the current history under the active model (null without a model or history).',
  })
  anomalyScore(@Parent() user: User): Promise<AnomalyScore | null> {
    return this.reconstructions.anomalyScore(user.id);
  }
}
