import { Field, Float, ID, Int, ObjectType, registerEnumType } from '@nestjs/graphql';

export enum LatentMapOf {
  ITEMS = 'ITEMS',
  USERS = 'USERS',
}
registerEnumType(LatentMapOf, {
  name: 'LatentMapOf',
  description:
    "ITEMS: the model's item vectors (decoder weights). USERS: the encoded histories of the users at activation.",
});

@ObjectType({
  description:
    "A 2-D map of the active version's latent space: its item (or user) vectors, scaled to unit length, projected on their two principal axes (PCA). " +
    'Columnar: point k is (ids[k], x[k], y[k]). Computed once per version and kind, then cached.',
})
export class LatentMap {
  @Field(() => Int)
  modelVersionId: number;

  @Field(() => LatentMapOf)
  of: LatentMapOf;

  @Field(() => String, { description: 'How the points were projected: "PCA".' })
  method: string;

  @Field(() => [Float], { description: "Share (0–1) of the vectors' variance along x and along y." })
  explainedVariance: number[];

  @Field(() => Int, {
    description:
      'Points the version has (items with a vector / users with a history); more than the points returned when `limit` sampled them.',
  })
  total: number;

  @Field(() => [ID], { description: 'Item (or user) id of each point.' })
  ids: string[];

  @Field(() => [Float])
  x: number[];

  @Field(() => [Float])
  y: number[];

  @Field(() => [String], { description: 'ITEMS: the title of each point ("" when none). USERS: empty.' })
  labels: string[];

  @Field(() => [String], { description: 'ITEMS: the legend, the most frequent categories (at most 10). USERS: empty.' })
  categories: string[];

  @Field(() => [Int], {
    description:
      'ITEMS: per point, the index in `categories` of its rarest category that is in the legend (-1: none). USERS: empty.',
  })
  category: number[];

  @Field(() => [Float], {
    description: "USERS: per point, the user's anomaly percentile (0–100) at activation. ITEMS: empty.",
  })
  anomalyPercentile: number[];
}
