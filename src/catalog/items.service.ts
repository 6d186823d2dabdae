import { Inject, Injectable } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { DomainError, ErrorCode, notFound } from '../common/domain-error.js';
import type { DeletionResult } from '../common/dto/page-info.type.js';
import {
  checkAttributes,
  checkBatch,
  checkBatchId,
  checkCategories,
  checkDate,
  checkFinite,
  checkId,
  checkLimit,
  checkString,
  LIMITS,
} from '../common/validation.js';
import { PrismaService } from '../database/prisma.service.js';
import { InteractionKind } from '../common/interaction-kind.js';
import { toItem } from './catalog.mappers.js';
import { ItemCache } from './item-cache.service.js';
import { popularItems, upsertItems } from './catalog.queries.js';
import type { UpsertItemInput, ItemsFilter } from './dto/item.input.js';
import type { Item, ItemConnection, PopularItem } from './dto/item.type.js';
import type { KindWeightInput } from './dto/popular-items.args.js';

@Injectable()
export class ItemsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly cache: ItemCache,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async upsert(inputs: UpsertItemInput[]): Promise<Item[]> {
    checkBatch('items', inputs, this.env.maxBatchSize);
    const seen = new Set<string>();
    const items = inputs.map((input, i) => {
      const field = `items[${i}]`;
      const id = checkBatchId(field, input.id, seen);
      return {
        id,
        title: input.title == null ? null : checkString(`${field}.title`, input.title, LIMITS.title),
        categories: input.categories == null ? null : checkCategories(`${field}.categories`, input.categories),
        attributes: input.attributes == null ? null : checkAttributes(`${field}.attributes`, input.attributes),
        hidden: input.hidden ?? null,
      };
    });
    const rows = await this.prisma.$transaction((tx) => upsertItems(tx, items));
    this.cache.invalidate(rows.map((r) => r.id));
    return rows.map(toItem);
  }

  async get(id: string, field = 'id'): Promise<Item> {
    const row = await this.prisma.item.findUnique({ where: { externalId: checkId(field, id) } });
    if (!row) throw notFound('Item', id, field);
    return toItem(row);
  }

  async list(
    filter: ItemsFilter | null | undefined,
    first: number,
    after: string | null | undefined,
  ): Promise<ItemConnection> {
    checkLimit('first', first, this.env.maxPageSize);
    const afterId = after ? (decodeCursor('after', after, ['number'])[0] as number) : undefined;
    // Item ids are int4: a forged cursor outside that range is not one this API returned.
    if (afterId !== undefined && (afterId < 0 || afterId > 2 ** 31 - 1))
      throw new DomainError(ErrorCode.BAD_USER_INPUT, 'after: not a cursor returned by this API', 'after');
    if (filter?.category != null) checkString('filter.category', filter.category, LIMITS.category);
    const rows = await this.prisma.item.findMany({
      where: {
        ...(afterId !== undefined ? { id: { gt: afterId } } : {}),
        ...(filter?.category != null ? { categories: { has: filter.category } } : {}),
        ...(filter?.hidden != null ? { hidden: filter.hidden } : {}),
      },
      orderBy: { id: 'asc' },
      take: first + 1,
    });
    const page = rows.slice(0, first);
    return {
      nodes: page.map(toItem),
      pageInfo: {
        hasNextPage: rows.length > first,
        endCursor: page.length > 0 ? encodeCursor([page[page.length - 1].id]) : null,
      },
    };
  }

  async setHidden(id: string, hidden: boolean): Promise<Item> {
    checkId('itemId', id);
    const result = await this.prisma.item.updateManyAndReturn({ where: { externalId: id }, data: { hidden } });
    if (result.length === 0) throw notFound('Item', id, 'itemId');
    this.cache.invalidate([result[0].id]);
    return toItem(result[0]);
  }

  /** Deletes the item and, by cascade, every interaction with it. */
  async delete(id: string): Promise<DeletionResult> {
    checkId('itemId', id);
    const cache = this.cache;
    return this.prisma.$transaction(async (tx) => {
      const item = await tx.item.findUnique({ where: { externalId: id }, select: { id: true } });
      if (!item) throw notFound('Item', id, 'itemId');
      const deletedInteractions = await tx.interaction.count({ where: { itemId: item.id } });
      await tx.item.delete({ where: { id: item.id } });
      cache.invalidate([item.id]); // (also announced by the trigger on commit)
      return { id, deletedInteractions };
    });
  }

  /** The popularity recommender: weighted interaction counts, hidden items excluded. */
  async popular(args: {
    limit: number;
    category?: string | null;
    since?: Date | null;
    kindWeights?: KindWeightInput[] | null;
  }): Promise<PopularItem[]> {
    checkLimit('limit', args.limit, this.env.maxPageSize);
    if (args.category != null) checkString('category', args.category, LIMITS.category);
    if (args.since != null) checkDate('since', args.since);
    let weights: Record<string, number> = { ...this.env.popularityWeights };
    if (args.kindWeights != null) {
      const kinds = Object.values(InteractionKind).length;
      if (args.kindWeights.length > kinds)
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `kindWeights: at most ${kinds} entries, one per kind`,
          'kindWeights',
        );
      weights = Object.fromEntries(Object.values(InteractionKind).map((k) => [k, 0]));
      args.kindWeights.forEach((w, i) => {
        weights[w.kind] = checkFinite(`kindWeights[${i}].weight`, w.weight, 1e6);
      });
    }
    const rows = await popularItems(this.prisma, {
      limit: args.limit,
      category: args.category,
      since: args.since,
      weights,
      defaultWeight: 1,
    });
    if (rows.length === 0) return [];
    const items = await this.prisma.item.findMany({ where: { id: { in: rows.map((r) => r.itemId) } } });
    const byId = new Map(items.map((it) => [it.id, it]));
    return rows
      .filter((r) => byId.has(r.itemId))
      .map((r) => ({ item: toItem(byId.get(r.itemId)!), score: r.score, interactionCount: r.interactionCount }));
  }
}
