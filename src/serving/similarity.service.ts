import { Injectable } from '@nestjs/common';
import { toItem, toUser } from '../catalog/catalog.mappers.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import { PgPool } from '../database/pg-pool.js';
import { ActiveModelService } from './active-model.service.js';
import { SimilarityKind, type Embedding, type SimilarItem, type SimilarUser } from './dto/serving.types.js';
import { ModelWorkService } from './model-work.service.js';
import { columnOrThrow, requireEmbeddings, ServingInputs } from './serving-inputs.service.js';
import { usersById } from './serving.queries.js';
import { visibleTopK } from './visible-top-k.js';
import { VisualModelService } from './visual-model.service.js';

/** Neighbours and vectors: similar items (collaborative or visual), similar users, user and item embeddings. */
@Injectable()
export class SimilarityService {
  constructor(
    private readonly pool: PgPool,
    private readonly items: ItemCache,
    private readonly inputs: ServingInputs,
    private readonly models: ActiveModelService,
    private readonly visual: VisualModelService,
    private readonly modelWork: ModelWorkService,
  ) {}

  async similarItems(
    itemId: string,
    limit: number,
    by: SimilarityKind = SimilarityKind.COLLABORATIVE,
  ): Promise<SimilarItem[]> {
    const item = await this.inputs.item(itemId, limit);
    if (by === SimilarityKind.VISUAL) return this.visuallySimilar(item.id, itemId, limit);
    const version = this.models.require();
    const col = columnOrThrow(version, item.id, itemId, 'itemId');
    const ranked = await visibleTopK(this.items, limit, (k) => version.similarItems(col, k), version);
    return ranked.map(({ item, score }) => ({ item, score }));
  }

  /** Visual neighbours, skipping hidden and deleted items (over-fetching until `limit` remain). */
  private async visuallySimilar(internalId: number, itemId: string, limit: number): Promise<SimilarItem[]> {
    for (let k = limit + 5; ; k *= 2) {
      const found = this.visual.similar(internalId, itemId, k, new Set());
      const rows = new Map((await this.items.visible(found.map((f) => f.itemId))).map((r) => [r.id, r]));
      const visible = found.filter((f) => rows.has(f.itemId));
      if (visible.length >= limit || found.length < k)
        return visible.slice(0, limit).map((f) => ({ item: toItem(rows.get(f.itemId)!), score: f.score }));
    }
  }

  async similarUsers(userId: string, limit: number): Promise<SimilarUser[]> {
    const user = await this.inputs.user(userId, limit);
    const version = this.models.require();
    requireEmbeddings(version, 'similarUsers');
    const history = version.historyRow(user.history);
    if (history.indptr[1] === 0) return [];
    await version.served.populationReady();
    const self = version.rowOf(user.userId);
    // Over-fetch a little: users deleted since activation are dropped.
    const neighbors = await this.modelWork.run(() => version.served.similarUsers(history, limit + 10, self));
    const rows = await usersById(
      this.pool,
      neighbors.map((n) => version.userOfRow[n.index]),
    );
    const score = new Map(neighbors.map((n) => [version.userOfRow[n.index], n.score]));
    return rows.slice(0, limit).map((r) => ({ user: toUser(r), score: score.get(r.id)! }));
  }

  async userEmbedding(userId: string): Promise<Embedding> {
    const user = await this.inputs.user(userId);
    const version = this.models.require();
    requireEmbeddings(version, 'userEmbedding');
    const vector = await this.modelWork.run(() => version.served.userEmbedding(version.historyRow(user.history)));
    return { modelVersionId: version.id, dimension: vector.length, vector: Array.from(vector) };
  }

  async itemEmbedding(itemId: string): Promise<Embedding> {
    const item = await this.inputs.item(itemId);
    const version = this.models.require();
    requireEmbeddings(version, 'itemEmbedding');
    const vector = version.served.itemEmbedding(columnOrThrow(version, item.id, itemId, 'itemId'));
    return { modelVersionId: version.id, dimension: vector.length, vector: Array.from(vector) };
  }
}
