import { Injectable } from '@nestjs/common';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { checkLimit } from '../common/validation.js';
import { csrFromTriples, csrSelectRows } from '../core/data/csr.js';
import { pca } from '../core/projection/pca.js';
import { PgPool } from '../database/pg-pool.js';
import { ActiveModelService } from './active-model.service.js';
import { interactionValue, type LoadedVersion } from './loaded-version.js';
import { streamInteractions } from './serving.queries.js';
import { LatentMapOf, type LatentMap } from './dto/latent-map.types.js';

/** Largest map: points beyond it are sampled evenly (the dashboard draws 50,000 points smoothly). */
export const LATENT_MAP_MAX_POINTS = 50_000;
/** Categories with a colour of their own in an item map. */
const LEGEND_SIZE = 10;
/** Rows encoded per model call when building a user map. */
const ENCODE_BATCH = 256;

/**
 * 2-D maps of the active version's item and user vectors (PCA in src/core/projection), computed
 * once per (version, kind, limit) and kept while the version serves: concurrent requests share the
 * one computation. A map costs one pass over the vectors (items: already in memory; users: their
 * histories read through COPY and encoded in batches) plus a d×d covariance.
 */
@Injectable()
export class LatentMapService {
  private cache = new Map<string, Promise<LatentMap>>();
  private cachedVersion = -1;

  constructor(
    private readonly pool: PgPool,
    private readonly models: ActiveModelService,
  ) {}

  async latentMap(of: LatentMapOf, limit: number): Promise<LatentMap> {
    checkLimit('limit', limit, LATENT_MAP_MAX_POINTS);
    const version = this.models.require();
    if (!version.served.hasEmbeddings) {
      throw new DomainError(
        ErrorCode.UNSUPPORTED_BY_MODEL,
        `latentMap: ${version.summary.kind} versions have no latent vectors (EASE is a linear item–item model)`,
        'of',
      );
    }
    if (this.cachedVersion !== version.id) {
      this.cache = new Map();
      this.cachedVersion = version.id;
    }
    const key = `${of}:${limit}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = of === LatentMapOf.ITEMS ? this.itemMap(version, limit) : this.userMap(version, limit);
      // A failure is not cached: the next request tries again.
      hit.catch(() => this.cache.get(key) === hit && this.cache.delete(key));
      if (this.cache.size >= 8) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, hit);
    }
    return hit;
  }

  private async itemMap(version: LoadedVersion, limit: number): Promise<LatentMap> {
    const matrix = version.served.itemVectorMatrix()!;
    const D = matrix.dim;
    const columns: number[] = [];
    version.itemOfColumn.forEach((id, col) => id >= 0 && columns.push(col));
    const chosen = evenSample(columns, limit);
    // The item vectors without their bias column.
    const dim = D - 1;
    const vectors = new Float32Array(chosen.length * dim);
    chosen.forEach((col, k) => vectors.set(matrix.vectors.subarray(col * D, col * D + dim), k * dim));
    const { coordinates, explainedVariance } = await pca(vectors, dim, { pause: yieldToRequests });

    const internal = chosen.map((col) => version.itemOfColumn[col]);
    const { rows } = await this.pool.query<{
      id: number;
      externalId: string;
      title: string | null;
      categories: string[];
    }>({
      name: 'latentMap.items',
      text: 'SELECT id, external_id AS "externalId", title, categories FROM items WHERE id = ANY($1::int[])',
      values: [internal],
    });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const frequency = new Map<string, number>();
    for (const r of rows) for (const c of r.categories) frequency.set(c, (frequency.get(c) ?? 0) + 1);
    const legend = [...frequency.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, LEGEND_SIZE)
      .map(([c]) => c);
    const legendIndex = new Map(legend.map((c, k) => [c, k]));

    const map = emptyMap(version, LatentMapOf.ITEMS, columns.length, explainedVariance);
    internal.forEach((id, k) => {
      const item = byId.get(id);
      if (!item) return; // deleted since the version loaded
      map.ids.push(item.externalId);
      map.x.push(round(coordinates[k * 2]));
      map.y.push(round(coordinates[k * 2 + 1]));
      map.labels.push(item.title ?? '');
      // The item's most specific category among the legend's: the least frequent one.
      let best = -1;
      for (const c of item.categories) {
        const idx = legendIndex.get(c);
        if (idx !== undefined && (best < 0 || frequency.get(c)! < frequency.get(legend[best])!)) best = idx;
      }
      map.category.push(best);
    });
    map.categories = legend;
    return map;
  }

  private async userMap(version: LoadedVersion, limit: number): Promise<LatentMap> {
    await version.served.populationReady();
    const errors = version.served.errors;
    const rowsWithHistory: number[] = [];
    errors.forEach((e, row) => Number.isFinite(e) && rowsWithHistory.push(row));
    const chosen = evenSample(rowsWithHistory, limit);
    const pointOfUser = new Map<number, number>();
    chosen.forEach((row, k) => pointOfUser.set(version.userOfRow[row], k));

    // The chosen users' current histories, as the model reads them.
    const ratings = version.served.kind === 'autorec';
    const tr: number[] = [];
    const tc: number[] = [];
    const tv: number[] = [];
    await streamInteractions(this.pool, (userId, itemId, kind, value) => {
      const point = pointOfUser.get(userId);
      if (point === undefined) return;
      const col = version.columnOf(itemId);
      const v = col < 0 ? null : interactionValue(ratings, kind, value, version.minRating);
      if (v === null) return;
      tr.push(point);
      tc.push(col);
      tv.push(v);
    });
    const histories = csrFromTriples(chosen.length, version.served.numItems, tr, tc, tv);
    let dim = 0;
    let vectors = new Float32Array(0);
    for (let start = 0; start < chosen.length; start += ENCODE_BATCH) {
      const rows = Array.from({ length: Math.min(ENCODE_BATCH, chosen.length - start) }, (_, k) => start + k);
      const encoded = version.served.userEmbedding(csrSelectRows(histories, rows));
      if (start === 0) {
        dim = encoded.length / rows.length;
        vectors = new Float32Array(chosen.length * dim);
      }
      vectors.set(encoded, start * dim);
      await yieldToRequests();
    }
    const { coordinates, explainedVariance } = chosen.length
      ? await pca(vectors, dim, { pause: yieldToRequests })
      : { coordinates: new Float32Array(0), explainedVariance: [0, 0] };

    const users = await this.pool.query<{ id: number; externalId: string }>({
      name: 'latentMap.users',
      text: 'SELECT id, external_id AS "externalId" FROM users WHERE id = ANY($1::int[])',
      values: [chosen.map((row) => version.userOfRow[row])],
    });
    const externalOf = new Map(users.rows.map((u) => [u.id, u.externalId]));
    const map = emptyMap(version, LatentMapOf.USERS, rowsWithHistory.length, explainedVariance);
    chosen.forEach((row, k) => {
      const external = externalOf.get(version.userOfRow[row]);
      if (external === undefined) return; // deleted since activation
      map.ids.push(external);
      map.x.push(round(coordinates[k * 2]));
      map.y.push(round(coordinates[k * 2 + 1]));
      map.anomalyPercentile.push(Math.round(version.served.percentile(errors[row]) * 10) / 10);
    });
    return map;
  }
}

function emptyMap(version: LoadedVersion, of: LatentMapOf, total: number, explainedVariance: number[]): LatentMap {
  return {
    modelVersionId: version.id,
    of,
    method: 'PCA',
    explainedVariance,
    total,
    ids: [],
    x: [],
    y: [],
    labels: [],
    categories: [],
    category: [],
    anomalyPercentile: [],
  };
}

/** Lets queued requests run between chunks of a map's computation. */
const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Five significant decimals: a map needs no more, and the JSON stays small. */
const round = (v: number) => Math.round(v * 1e5) / 1e5;

/** At most `limit` entries, evenly spaced over the list (all of it when it is short enough). */
export function evenSample<T>(values: readonly T[], limit: number): T[] {
  if (values.length <= limit) return values.slice();
  const step = values.length / limit;
  return Array.from({ length: limit }, (_, k) => values[Math.floor(k * step)]);
}
