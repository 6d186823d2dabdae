import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import { Requires } from '../auth/roles.js';
import { LatentMap, LatentMapOf } from './dto/latent-map.types.js';
import { LATENT_MAP_MAX_POINTS, LatentMapService } from './latent-map.service.js';

/** The query cost of a latent map (src/graphql/query-cost.ts), whatever its `limit`: a tenth of the default limit. */
const LATENT_MAP_COST = 2_000;

@Resolver(() => LatentMap)
@Requires('READER')
export class LatentMapResolver {
  constructor(private readonly maps: LatentMapService) {}

  @Query(() => LatentMap, {
    // One cached object; its lists hold at most LATENT_MAP_MAX_POINTS points (≈ 1 MB of JSON).
    complexity: LATENT_MAP_COST,
    description:
      `A 2-D map (PCA) of the active version's item or user vectors, for plotting; cached per version. At most \`limit\` points (1..${LATENT_MAP_MAX_POINTS}), ` +
      'sampled evenly when the version has more. NO_ACTIVE_MODEL without a version; UNSUPPORTED_BY_MODEL for EASE (no latent vectors).',
  })
  latentMap(
    @Args('of', { type: () => LatentMapOf, defaultValue: LatentMapOf.ITEMS }) of: LatentMapOf,
    @Args('limit', { type: () => Int, defaultValue: 20_000 }) limit: number,
  ): Promise<LatentMap> {
    return this.maps.latentMap(of, limit);
  }
}
