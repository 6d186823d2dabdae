import { Inject, Injectable } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { checkLimit, checkString } from '../common/validation.js';
import { PrismaService } from '../database/prisma.service.js';
import { ITEM_COLUMNS } from './catalog.queries.js';
import { toItem, type ItemRow } from './catalog.mappers.js';
import type { Item } from './dto/item.type.js';
import type { CatalogStats, IngestBucket } from './dto/overview.types.js';

/** Longest ingest-rate window: a week of hourly buckets. */
export const MAX_INGEST_HOURS = 168;
/** Longest item search text. */
const MAX_SEARCH_LENGTH = 200;

/** Counts, the ingest rate and item search: what an operator's overview of the data shows. */
@Injectable()
export class OverviewService {
  constructor(
    private readonly prisma: PrismaService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async stats(): Promise<CatalogStats> {
    const [row] = await this.prisma.$queryRawUnsafe<{ users: bigint; items: bigint; interactions: bigint }[]>(
      'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM items) AS items, (SELECT count(*) FROM interactions) AS interactions',
    );
    return { users: Number(row.users), items: Number(row.items), interactions: Number(row.interactions) };
  }

  /**
   * Interactions stored per hour over the last `hours` hours (by created_at, the time the server
   * stored them, not the event's occurredAt), oldest first, one bucket per hour including empty
   * ones; the last bucket is the current, partial hour. A BRIN index on created_at keeps this a
   * range scan on an append-mostly table.
   */
  async ingestRate(hours: number): Promise<IngestBucket[]> {
    checkLimit('hours', hours, MAX_INGEST_HOURS);
    const rows = await this.prisma.$queryRawUnsafe<{ hour: Date; interactions: number }[]>(
      `WITH hours AS (
         SELECT generate_series(date_trunc('hour', now()) - ($1::int - 1) * interval '1 hour', date_trunc('hour', now()), interval '1 hour') AS hour)
       SELECT h.hour, coalesce(c.n, 0)::int AS interactions
       FROM hours h LEFT JOIN (
         SELECT date_trunc('hour', created_at) AS hour, count(*) AS n FROM interactions
         WHERE created_at >= date_trunc('hour', now()) - ($1::int - 1) * interval '1 hour'
         GROUP BY 1) c ON c.hour = h.hour
       ORDER BY h.hour`,
      hours,
    );
    return rows.map((r) => ({ hour: r.hour, interactions: r.interactions }));
  }

  /**
   * Items whose id is `query` (first) or whose title contains it (case-insensitive), titles in
   * alphabetical order; hidden items included (they are marked).
   */
  async search(query: string, limit: number): Promise<Item[]> {
    checkLimit('limit', limit, this.env.maxPageSize);
    const text = checkString('query', query, MAX_SEARCH_LENGTH).trim();
    if (!text) return [];
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = await this.prisma.$queryRawUnsafe<ItemRow[]>(
      `(SELECT ${ITEM_COLUMNS}, 0 AS rank FROM items WHERE external_id = $1)
       UNION ALL
       (SELECT ${ITEM_COLUMNS}, 1 AS rank FROM items WHERE title ILIKE $2 AND external_id <> $1 ORDER BY title, id LIMIT $3)
       ORDER BY rank, title LIMIT $3`,
      text,
      pattern,
      limit,
    );
    return rows.map(toItem);
  }
}
