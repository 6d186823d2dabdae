import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { toItem, type ItemRow } from '../catalog/catalog.mappers.js';
import { HistoryCache } from '../catalog/history-cache.service.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { decodeCursor, encodeCursor } from '../common/cursor.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { checkBatch, checkDate, checkFinite, checkId, checkLimit, checkString, LIMITS } from '../common/validation.js';
import { PgPool } from '../database/pg-pool.js';
import { PrismaService } from '../database/prisma.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import { InteractionKind } from '../common/interaction-kind.js';
import type { RecordInteractionInput } from './dto/interaction.input.js';
import type { Interaction, InteractionConnection, RecordInteractionsResult } from './dto/interaction.type.js';
import {
  createBareItems,
  ensureUsers,
  findItemsByExternalId,
  insertInteractions,
  type NewInteraction,
} from './interactions.queries.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How many unknown ids an UNKNOWN_ITEMS error lists. */
const MAX_IDS_IN_ERROR = 100;

@Injectable()
export class InteractionsService {
  private readonly logger = new Logger(InteractionsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly pool: PgPool,
    @Inject(ENV) private readonly env: Env,
    @Optional() private readonly metrics?: MetricsService,
    @Optional() private readonly histories?: HistoryCache,
  ) {}

  /**
   * Stores a batch in one transaction: all of it or (on any error) nothing. Events whose eventId is
   * already stored are skipped; unknown users are created; unknown items reject the batch unless
   * the server allows creating them.
   */
  async record(inputs: RecordInteractionInput[]): Promise<RecordInteractionsResult> {
    checkBatch('interactions', inputs, this.env.maxBatchSize);
    const valid = inputs.map((input, i) => this.validate(input, `interactions[${i}]`));

    const itemIds = [...new Set(valid.map((v) => v.itemExternalId))];
    const userIds = [...new Set(valid.map((v) => v.userExternalId))];

    let changedUsers: number[] = [];
    const result = await this.pool.transaction(async (tx) => {
      let createdItems = 0;
      let items = await findItemsByExternalId(tx, itemIds);
      if (items.length < itemIds.length) {
        const known = new Set(items.map((it) => it.externalId));
        const unknown = itemIds.filter((id) => !known.has(id));
        if (!this.env.createUnknownItems) {
          const first = valid.findIndex((v) => !known.has(v.itemExternalId));
          throw new DomainError(
            ErrorCode.UNKNOWN_ITEMS,
            `interactions[${first}].itemId: unknown item${unknown.length > 1 ? 's' : ''} ${unknown
              .slice(0, 10)
              .map((id) => `"${id}"`)
              .join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}; upsert them first`,
            `interactions[${first}].itemId`,
            { ids: unknown.slice(0, MAX_IDS_IN_ERROR) },
          );
        }
        createdItems = await createBareItems(tx, unknown);
        items = await findItemsByExternalId(tx, itemIds);
      }
      const itemByExternalId = new Map(items.map((it) => [it.externalId, it]));
      const { ids: userByExternalId, created: createdUsers } = await ensureUsers(tx, userIds);

      const rows: NewInteraction[] = valid.map((v) => ({
        userId: userByExternalId.get(v.userExternalId)!,
        itemId: itemByExternalId.get(v.itemExternalId)!.id,
        kind: v.kind,
        value: v.value,
        occurredAt: v.occurredAt,
        eventId: v.eventId,
        recommendationId: v.recommendationId,
      }));
      const stored = await insertInteractions(tx, rows);
      changedUsers = [...new Set(stored.map((r) => r.userId))];

      const itemByInternalId = new Map<number, ItemRow>(items.map((it) => [it.id, it]));
      const userExternal = new Map([...userByExternalId].map(([ext, id]) => [id, ext]));
      return {
        stored: stored.map((s) => ({
          id: s.id,
          userId: userExternal.get(s.userId)!,
          itemId: itemByInternalId.get(s.itemId)!.externalId,
          kind: s.kind as InteractionKind,
          value: s.value,
          occurredAt: s.occurredAt,
          eventId: s.eventId,
          recommendationId: s.recommendationId,
          item: toItem(itemByInternalId.get(s.itemId)!),
        })),
        duplicates: rows.length - stored.length,
        createdUsers,
        createdItems,
      };
    });
    this.metrics?.countIngested(result.stored.length); // committed
    // This process's next recommendation sees the new history at once (others on the trigger's notice).
    if (changedUsers.length > 0) this.histories?.invalidate(changedUsers);
    return result;
  }

  /** A user's interactions, newest first. */
  async history(
    userInternalId: number,
    userExternalId: string,
    first: number,
    after?: string | null,
  ): Promise<InteractionConnection> {
    checkLimit('first', first, this.env.maxPageSize);
    let cursorWhere = {};
    if (after) {
      const [time, id] = decodeCursor('after', after, ['number', 'string']) as [number, string];
      const at = new Date(time);
      // Interaction ids are int8 and times valid dates: a forged cursor outside them was not returned by this API.
      if (!/^\d{1,19}$/.test(id) || BigInt(id) > 2n ** 63n - 1n || Number.isNaN(at.getTime())) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'after: not a cursor returned by this API', 'after');
      }
      cursorWhere = { OR: [{ occurredAt: { lt: at } }, { occurredAt: at, id: { lt: BigInt(id) } }] };
    }
    const rows = await this.prisma.interaction.findMany({
      where: { userId: userInternalId, ...cursorWhere },
      orderBy: [{ occurredAt: 'desc' }, { id: 'desc' }],
      take: first + 1,
      include: { item: true },
    });
    const page = rows.slice(0, first);
    const last = page[page.length - 1];
    return {
      nodes: page.map((r): Interaction => ({
        id: r.id.toString(),
        userId: userExternalId,
        itemId: r.item.externalId,
        kind: r.kind,
        value: r.value,
        occurredAt: r.occurredAt,
        eventId: r.eventId,
        recommendationId: r.recommendationId,
        item: toItem(r.item),
      })),
      pageInfo: {
        hasNextPage: rows.length > first,
        endCursor: last ? encodeCursor([last.occurredAt.getTime(), last.id.toString()]) : null,
      },
    };
  }

  private validate(input: RecordInteractionInput, field: string) {
    const userExternalId = checkId(`${field}.userId`, input.userId);
    const itemExternalId = checkId(`${field}.itemId`, input.itemId);
    const kind = input.kind ?? InteractionKind.IMPLICIT;
    if (kind === InteractionKind.RATING && input.value == null) {
      throw new DomainError(ErrorCode.BAD_USER_INPUT, `${field}.value: required for kind RATING`, `${field}.value`);
    }
    const value = input.value == null ? 1 : checkFinite(`${field}.value`, input.value, 1e6);
    const occurredAt = input.occurredAt == null ? null : checkDate(`${field}.occurredAt`, input.occurredAt);
    let eventId: string | null = null;
    if (input.eventId != null) {
      eventId = checkString(`${field}.eventId`, input.eventId, LIMITS.eventId);
      if (eventId.length === 0)
        throw new DomainError(ErrorCode.BAD_USER_INPUT, `${field}.eventId: must not be empty`, `${field}.eventId`);
    }
    let recommendationId: string | null = null;
    if (input.recommendationId != null) {
      // Any well-formed id is stored: its impression may be sampled out, not yet written, or deleted.
      if (!UUID.test(input.recommendationId)) {
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          `${field}.recommendationId: not a recommendationId (a UUID returned by recommendations)`,
          `${field}.recommendationId`,
        );
      }
      recommendationId = input.recommendationId.toLowerCase();
    }
    return { userExternalId, itemExternalId, kind, value, occurredAt, eventId, recommendationId };
  }
}
