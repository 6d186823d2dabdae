import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from '@nestjs/graphql';
import { Item } from '../../catalog/dto/item.type.js';
import { User } from '../../catalog/dto/user.type.js';
import { ModelVersion } from '../../registry/dto/model-version.type.js';

export enum RecommendationSource {
  MODEL = 'MODEL',
  POPULARITY = 'POPULARITY',
  /** An item with no interactions in the model, scored through a vector predicted from its image. */
  COLD_START = 'COLD_START',
}
registerEnumType(RecommendationSource, {
  name: 'RecommendationSource',
  description:
    'Where a recommendation came from: the active model, popularity (no active model, or no usable history), or COLD_START (a new item scored through the collaborative vector predicted from its image).',
});

export enum ScoreUnit {
  PROBABILITY = 'PROBABILITY',
  RATING = 'RATING',
  SCORE = 'SCORE',
}
registerEnumType(ScoreUnit, {
  name: 'ScoreUnit',
  description:
    'PROBABILITY: multinomial probability (Mult-VAE/DAE); RATING: predicted rating (AutoRec); SCORE: EASE score.',
});

export enum SearchKind {
  EXACT = 'EXACT',
  HNSW = 'HNSW',
}
registerEnumType(SearchKind, {
  name: 'SearchKind',
  description: 'How the serving index searches: a full scan, or an HNSW graph.',
});

@InputType({ description: 'Restricts recommendations. Hidden items are always excluded.' })
export class RecommendationFilter {
  @Field(() => [String], { nullable: true, description: 'Only items in at least one of these categories.' })
  categories?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Items never to return (unknown ids are ignored).' })
  excludeItemIds?: string[] | null;

  @Field(() => Boolean, { defaultValue: false, description: 'Also return items the user already interacted with.' })
  includeSeen?: boolean;
}

@ObjectType({ description: 'A recommended item with its score.' })
export class Recommendation {
  @Field(() => Item)
  item: Item;

  @Field(() => Float, {
    description:
      "MODEL: the model's score (Mult-VAE/DAE: the decoder's logit; AutoRec: predicted rating; EASE: score). POPULARITY: weighted interaction count.",
  })
  score: number;

  @Field(() => RecommendationSource)
  source: RecommendationSource;
}

@ObjectType()
export class Recommendations {
  @Field(() => [Recommendation])
  items: Recommendation[];

  @Field(() => RecommendationSource, {
    description: 'MODEL, or POPULARITY when the model could not be used (see `reason`).',
  })
  source: RecommendationSource;

  @Field(() => Int, { nullable: true, description: 'The model version that ranked the items (null for popularity).' })
  modelVersionId: number | null;

  @Field(() => String, { nullable: true, description: 'Why popularity was used instead of the model.' })
  reason: string | null;

  @Field(() => ID, {
    description:
      "This answer's id: pass it as `recommendationId` to recordInteractions for the events it led to (online metrics, experiments; docs/experiments.md).",
  })
  recommendationId: string;
}

@ObjectType()
export class SimilarItem {
  @Field(() => Item)
  item: Item;

  @Field(() => Float, {
    description:
      "How similar the item is to the query item, best first; compare scores within one answer only. COLLABORATIVE: the version kind's mix of " +
      'standardised similarities (EASE, Mult-DAE/VAE, ENSEMBLE; docs/similarity.md), not bounded to [−1, 1]; AutoRec: cosine of the item vectors. ' +
      'VISUAL: cosine of the image embeddings.',
  })
  score: number;
}

@ObjectType()
export class SimilarUser {
  @Field(() => User)
  user: User;

  @Field(() => Float, { description: 'Cosine similarity of the user vectors (encoder means).' })
  score: number;
}

@ObjectType()
export class ReconstructedItem {
  @Field(() => Item)
  item: Item;

  @Field(() => Float, { description: 'The reconstructed value, in the reconstruction’s unit.' })
  value: number;

  @Field(() => Boolean, { description: "Whether the item is in the user's history (as the model reads it)." })
  observed: boolean;
}

@ObjectType({ description: "How the model reconstructs a user's history." })
export class Reconstruction {
  @Field(() => Int)
  modelVersionId: number;

  @Field(() => ScoreUnit)
  unit: ScoreUnit;

  @Field(() => Float, {
    nullable: true,
    description: 'Reconstruction error of the whole history (null when the history is empty for the model).',
  })
  error: number | null;

  @Field(() => Float, { nullable: true, description: 'Percentile (0–100) of the error among the users at activation.' })
  percentile: number | null;

  @Field(() => [ReconstructedItem])
  items: ReconstructedItem[];
}

@ObjectType({ description: 'Reconstruction error as an anomaly score: high = unusual (bots, shilling profiles).' })
export class AnomalyScore {
  @Field(() => Float, {
    description:
      'Mult-VAE/DAE: mean negative log-likelihood per history item; AutoRec: RMSE over the ratings; EASE: squared error per item.',
  })
  error: number;

  @Field(() => Float, { description: 'Share (0–100) of the users at activation whose error is at most this one.' })
  percentile: number;

  @Field(() => Int)
  modelVersionId: number;
}

@ObjectType()
export class UserAnomaly {
  @Field(() => User)
  user: User;

  @Field(() => Float)
  error: number;

  @Field(() => Float)
  percentile: number;
}

export enum LatentSource {
  PRIOR = 'PRIOR',
  POPULATION = 'POPULATION',
}
registerEnumType(LatentSource, {
  name: 'LatentSource',
  description:
    "Where synthetic users' latent codes come from: PRIOR, the VAE's N(0, I); POPULATION, a diagonal Gaussian fitted to the users' encoder means at activation (two aggregate numbers per dimension; much closer to the real item popularity when training left the posterior far from the prior).",
});

@ObjectType({
  description: 'A synthetic user drawn from the active Mult-VAE version’s generative model (no real user’s data).',
})
export class SyntheticUser {
  @Field(() => [Item], {
    description:
      'Distinct catalog items, in draw order. Hidden items can be drawn, deleted ones not (one deleted after the version was loaded is dropped: one item fewer).',
  })
  items: Item[];
}

@ObjectType({ description: 'A vector in the serving model’s space, for export.' })
export class Embedding {
  @Field(() => Int)
  modelVersionId: number;

  @Field(() => Int)
  dimension: number;

  @Field(() => [Float])
  vector: number[];
}

@ObjectType({ description: 'What this API process is serving.' })
export class ServingStatus {
  @Field(() => ModelVersion, { nullable: true })
  modelVersion: ModelVersion | null;

  @Field(() => SearchKind, { nullable: true })
  search: SearchKind | null;

  @Field(() => Int, { description: 'Users whose vectors and errors were computed at activation.' })
  populationSize: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Seconds the active version took to load in this process (until it served).',
  })
  loadSeconds: number | null;

  @Field(() => Boolean, {
    description:
      'Whether the background work after loading (user vectors, anomaly errors, similar-item lists) has finished.',
  })
  warm: boolean;

  @Field({ description: 'tfjs backend of this process.' })
  backend: string;
}

export enum SimilarityKind {
  COLLABORATIVE = 'COLLABORATIVE',
  VISUAL = 'VISUAL',
}
registerEnumType(SimilarityKind, {
  name: 'SimilarityKind',
  description:
    "COLLABORATIVE: the active model's item vectors (co-interaction). VISUAL: the active image autoencoder's embeddings (look).",
});

@ObjectType({ description: 'An item image decoded by the active convolutional autoencoder.' })
export class ReconstructedImage {
  @Field(() => Int)
  modelVersionId: number;

  @Field({ description: 'The decoded thumbnail, a base64 PNG.' })
  png: string;

  @Field(() => Float, { description: 'Mean squared pixel error (intensities in [0, 1]).' })
  error: number;

  @Field(() => Float, { description: 'Share (0–100) of the catalog images reconstructed at least as well.' })
  percentile: number;
}
