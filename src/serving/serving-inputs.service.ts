import { Inject, Injectable } from '@nestjs/common';
import type { ItemRow } from '../catalog/catalog.mappers.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DomainError, ErrorCode, notFound } from '../common/domain-error.js';
import { checkCategories, checkId, checkLimit } from '../common/validation.js';
import { PgPool } from '../database/pg-pool.js';
import type { RecommendationFilter } from './dto/serving.types.js';
import type { LoadedVersion } from './loaded-version.js';
import { userWithHistory, type HistoryEntry } from './serving.queries.js';

/** Most ids accepted in `excludeItemIds`, `itemIds` of an anonymous history or of a reconstruction. */
export const MAX_ID_LIST = 1000;

export interface CheckedFilter {
  categories: string[] | null;
  /** Internal ids of the filter's excludeItemIds that exist. */
  excludeItemIds: number[];
  includeSeen: boolean;
}

/** A known user: the internal id and every interaction, oldest first (serving.queries userWithHistory). */
export interface KnownUser {
  userId: number;
  history: HistoryEntry[];
}

/**
 * The serving queries' inputs, checked once: limits, filters, lists of item ids, and the users and
 * items a query names (BAD_USER_INPUT, NOT_FOUND, UNKNOWN_ITEMS, BATCH_TOO_LARGE).
 */
@Injectable()
export class ServingInputs {
  constructor(
    private readonly pool: PgPool,
    private readonly items: ItemCache,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /** RECODER_MAX_PAGE_SIZE: the longest list a query returns. */
  get maxPageSize(): number {
    return this.env.maxPageSize;
  }

  /** `limit`: 1 to the page size. */
  checkLimit(limit: number): void {
    checkLimit('limit', limit, this.env.maxPageSize);
  }

  /**
   * The current history of the user a query names (`userId`); NOT_FOUND for a user the service does
   * not know. The query's `limit`, if given, is checked after the id and before the read.
   */
  async user(userId: string, limit?: number): Promise<KnownUser> {
    checkId('userId', userId);
    if (limit !== undefined) this.checkLimit(limit);
    const user = await userWithHistory(this.pool, userId);
    if (!user) throw notFound('User', userId, 'userId');
    return user;
  }

  /**
   * The catalog item a query names (`itemId`); NOT_FOUND when the catalog lacks it. The query's
   * `limit`, if given, is checked after the id and before the lookup.
   */
  async item(itemId: string, limit?: number): Promise<ItemRow> {
    checkId('itemId', itemId);
    if (limit !== undefined) this.checkLimit(limit);
    const item = (await this.items.byExternalIds([itemId])).get(itemId);
    if (!item) throw notFound('Item', itemId, 'itemId');
    return item;
  }

  /**
   * {@link user} and {@link item} read together; both ids are checked first, and an unknown user
   * is reported before an unknown item.
   */
  async userAndItem(userId: string, itemId: string): Promise<[KnownUser, ItemRow]> {
    checkId('userId', userId);
    checkId('itemId', itemId);
    const [user, items] = await Promise.all([userWithHistory(this.pool, userId), this.items.byExternalIds([itemId])]);
    if (!user) throw notFound('User', userId, 'userId');
    const item = items.get(itemId);
    if (!item) throw notFound('Item', itemId, 'itemId');
    return [user, item];
  }

  /** Internal ids of external item ids; UNKNOWN_ITEMS naming those the catalog lacks. */
  async resolveItems(field: string, externalIds: string[]): Promise<number[]> {
    if (externalIds.length > MAX_ID_LIST)
      throw new DomainError(ErrorCode.BATCH_TOO_LARGE, `${field}: at most ${MAX_ID_LIST} items`, field);
    externalIds.forEach((id, i) => checkId(`${field}[${i}]`, id));
    const found = await this.items.byExternalIds(externalIds);
    const unknown = externalIds.filter((id) => !found.has(id));
    if (unknown.length > 0) {
      throw new DomainError(
        ErrorCode.UNKNOWN_ITEMS,
        `${field}: ${unknown.length} unknown item(s): ${unknown.slice(0, 10).join(', ')}`,
        field,
        { ids: unknown },
      );
    }
    return externalIds.map((id) => found.get(id)!.id);
  }

  /** {@link resolveItems} for an optional list of at most the page size (null when absent). */
  async resolveOptionalPage(field: string, externalIds: string[] | null | undefined): Promise<number[] | null> {
    if (externalIds == null) return null;
    if (externalIds.length > this.env.maxPageSize)
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `${field}: at most ${this.env.maxPageSize} items`, field);
    return this.resolveItems(field, externalIds);
  }

  /** Validates a filter and resolves excludeItemIds to internal ids (unknown ids are ignored). */
  async checkFilter(filter: RecommendationFilter | null | undefined): Promise<CheckedFilter> {
    const categories = filter?.categories == null ? null : checkCategories('filter.categories', filter.categories);
    if (categories && categories.length === 0)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        'filter.categories: must not be empty (omit it instead)',
        'filter.categories',
      );
    const exclude = filter?.excludeItemIds ?? [];
    if (exclude.length > MAX_ID_LIST)
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `filter.excludeItemIds: at most ${MAX_ID_LIST} ids`,
        'filter.excludeItemIds',
      );
    exclude.forEach((id, i) => checkId(`filter.excludeItemIds[${i}]`, id));
    const excludeItemIds = exclude.length
      ? [...(await this.items.byExternalIds(exclude)).values()].map((i) => i.id)
      : [];
    return { categories, excludeItemIds, includeSeen: filter?.includeSeen ?? false };
  }
}

/** The item's column in the version; NOT_IN_MODEL when the version has no vector for it. */
export function columnOrThrow(version: LoadedVersion, internalId: number, externalId: string, field: string): number {
  const col = version.columnOf(internalId);
  if (col < 0) {
    throw new DomainError(
      ErrorCode.NOT_IN_MODEL,
      `item "${externalId}" has no vector in model version ${version.id} (it had no interactions when the version was trained)`,
      field,
      { id: externalId, modelVersionId: version.id },
    );
  }
  return col;
}

/** UNSUPPORTED_BY_MODEL unless the version has user and item embeddings (an autoencoder). */
export function requireEmbeddings(version: LoadedVersion, what: string): void {
  if (!version.served.hasEmbeddings) {
    throw new DomainError(
      ErrorCode.UNSUPPORTED_BY_MODEL,
      `${what} needs an autoencoder version; version ${version.id} is EASE, which has no embeddings`,
    );
  }
}
