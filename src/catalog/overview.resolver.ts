import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import { Requires } from '../auth/roles.js';
import { Item } from './dto/item.type.js';
import { CatalogStats, IngestBucket } from './dto/overview.types.js';
import { MAX_INGEST_HOURS, OverviewService } from './overview.service.js';

@Resolver()
@Requires('READER')
export class OverviewResolver {
  constructor(private readonly overview: OverviewService) {}

  @Query(() => CatalogStats, { description: 'Counts of users, items and interactions.' })
  catalogStats(): Promise<CatalogStats> {
    return this.overview.stats();
  }

  @Query(() => [IngestBucket], {
    description: `Interactions stored per hour over the last \`hours\` hours (1..${MAX_INGEST_HOURS}), oldest first, empty hours included; the last is the current hour.`,
  })
  ingestRate(@Args('hours', { type: () => Int, defaultValue: 24 }) hours: number): Promise<IngestBucket[]> {
    return this.overview.ingestRate(hours);
  }

  @Query(() => [Item], {
    description:
      'Items whose id equals `query` (first) or whose title contains it, case-insensitively; hidden ones included. At most `limit` (≤ the page size).',
  })
  searchItems(
    @Args('query') query: string,
    @Args('limit', { type: () => Int, defaultValue: 20 }) limit: number,
  ): Promise<Item[]> {
    return this.overview.search(query, limit);
  }
}
