import { Injectable } from '@nestjs/common';
import { toItem, toUser } from '../catalog/catalog.mappers.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import type { CsrMatrix } from '../core/data/csr.js';
import { PgPool } from '../database/pg-pool.js';
import { ActiveModelService } from './active-model.service.js';
import {
  ScoreUnit,
  type AnomalyScore,
  type Reconstruction,
  type ReconstructedImage,
  type UserAnomaly,
} from './dto/serving.types.js';
import type { LoadedVersion } from './loaded-version.js';
import { ModelWorkService } from './model-work.service.js';
import { columnOrThrow, ServingInputs } from './serving-inputs.service.js';
import { usersById, userWithHistory } from './serving.queries.js';
import { VisualModelService } from './visual-model.service.js';

/**
 * What the model makes of a history: its reconstruction (values per item, error and percentile),
 * predicted ratings, anomaly scores of users and anonymous histories, and the image autoencoder's
 * reconstruction of an item's image.
 */
@Injectable()
export class ReconstructionService {
  constructor(
    private readonly pool: PgPool,
    private readonly items: ItemCache,
    private readonly inputs: ServingInputs,
    private readonly models: ActiveModelService,
    private readonly visual: VisualModelService,
    private readonly modelWork: ModelWorkService,
  ) {}

  /** The active image autoencoder's reconstruction of an item's image. */
  async reconstructImage(itemId: string): Promise<ReconstructedImage> {
    const item = await this.inputs.item(itemId);
    const r = await this.visual.reconstruct(item.id, itemId);
    return { modelVersionId: r.versionId, png: r.png, error: r.error, percentile: r.percentile };
  }

  async reconstruction(userId: string, itemIds: string[] | null | undefined): Promise<Reconstruction> {
    const user = await this.inputs.user(userId);
    const requested = await this.inputs.resolveOptionalPage('itemIds', itemIds);
    const version = this.models.require();
    const history = version.historyRow(user.history);
    const observed = new Set(Array.from(history.indices.subarray(0, history.indptr[1])));
    let cols: number[];
    if (requested) {
      cols = requested.map((id, k) => columnOrThrow(version, id, itemIds![k], `itemIds[${k}]`));
    } else {
      // The history's items the model knows, newest first, capped at the page size.
      const newestFirst = [...new Set(user.history.map((h) => h.itemId).reverse())];
      cols = newestFirst
        .map((id) => version.columnOf(id))
        .filter((c) => c >= 0 && observed.has(c))
        .slice(0, this.inputs.maxPageSize);
    }
    return this.reconstructionOf(version, history, cols, observed);
  }

  /**
   * The model's reconstruction of an anonymous history (a list of items, read as bare positives
   * like recommendationsForHistory reads it): a value per item of `valuesFor`, else per history
   * item the model knows (in the order given), with the history's error and its percentile.
   */
  async reconstructionForHistory(itemIds: string[], valuesFor: string[] | null | undefined): Promise<Reconstruction> {
    const ids = await this.inputs.resolveItems('itemIds', itemIds);
    const requested = await this.inputs.resolveOptionalPage('valuesFor', valuesFor);
    const version = this.models.require();
    const history = version.positivesRow(ids);
    const observed = new Set(Array.from(history.indices.subarray(0, history.indptr[1])));
    const cols = requested
      ? requested.map((id, k) => columnOrThrow(version, id, valuesFor![k], `valuesFor[${k}]`))
      : [...new Set(ids.map((id) => version.columnOf(id)).filter((c) => c >= 0))]; // at most MAX_ID_LIST, counted by the query cost
    return this.reconstructionOf(version, history, cols, observed);
  }

  private async reconstructionOf(
    version: LoadedVersion,
    history: CsrMatrix,
    cols: number[],
    observed: Set<number>,
  ): Promise<Reconstruction> {
    await version.served.populationReady();
    const { values, error } = await this.modelWork.run(() => version.served.reconstructWithError(history));
    const byId = await this.items.byInternalIds(cols.map((c) => version.itemOfColumn[c]));
    const items = cols
      .filter((c) => byId.has(version.itemOfColumn[c]))
      .map((c) => ({ item: toItem(byId.get(version.itemOfColumn[c])!), value: values[c], observed: observed.has(c) }));
    return {
      modelVersionId: version.id,
      unit: { probability: ScoreUnit.PROBABILITY, rating: ScoreUnit.RATING, score: ScoreUnit.SCORE }[
        version.served.scoreUnit
      ],
      error: Number.isNaN(error) ? null : error,
      percentile: Number.isNaN(error) ? null : version.served.percentile(error),
      items,
    };
  }

  async predictedRating(userId: string, itemId: string): Promise<number> {
    const [user, item] = await this.inputs.userAndItem(userId, itemId);
    const version = this.models.require();
    if (version.served.kind !== 'autorec') {
      throw new DomainError(
        ErrorCode.UNSUPPORTED_BY_MODEL,
        `predictedRating needs an AutoRec version; version ${version.id} is ${version.summary.kind}`,
      );
    }
    const col = columnOrThrow(version, item.id, itemId, 'itemId');
    return (await this.modelWork.run(() => version.served.predictRatings(version.historyRow(user.history), [col])))[0];
  }

  async anomalousUsers(limit: number): Promise<UserAnomaly[]> {
    this.inputs.checkLimit(limit);
    const version = this.models.require();
    await version.served.populationReady();
    const top = version.served.anomalies(limit + 10);
    const rows = await usersById(
      this.pool,
      top.map((a) => version.userOfRow[a.row]),
    );
    const byUser = new Map(top.map((a) => [version.userOfRow[a.row], a]));
    return rows.slice(0, limit).map((r) => {
      const a = byUser.get(r.id)!;
      return { user: toUser(r), error: a.error, percentile: a.percentile };
    });
  }

  /** The user's anomaly score from their current history; null without a model or history. */
  async anomalyScore(externalUserId: string): Promise<AnomalyScore | null> {
    const version = this.models.version;
    if (!version) return null;
    const user = await userWithHistory(this.pool, externalUserId);
    if (!user) return null;
    await version.served.populationReady();
    const error = await this.modelWork.run(() => version.served.reconstructionError(version.historyRow(user.history)));
    if (Number.isNaN(error)) return null;
    return { error, percentile: version.served.percentile(error), modelVersionId: version.id };
  }

  /** The anomaly score of an anonymous history (as recommendationsForHistory reads it); null when the model knows none of its items. */
  async anomalyScoreForHistory(itemIds: string[]): Promise<AnomalyScore | null> {
    const ids = await this.inputs.resolveItems('itemIds', itemIds);
    const version = this.models.require();
    await version.served.populationReady();
    const error = await this.modelWork.run(() => version.served.reconstructionError(version.positivesRow(ids)));
    if (Number.isNaN(error)) return null;
    return { error, percentile: version.served.percentile(error), modelVersionId: version.id };
  }
}
