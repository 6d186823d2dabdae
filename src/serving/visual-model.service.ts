import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { initBackend } from '../core/engine/backend.js';
import { excludeSet, type Neighbor } from '../core/index/top-k.js';
import { buildVectorIndex, type VectorIndex } from '../core/index/vector-index.js';
import type { Tf } from '../core/models/autorec.js';
import { ConvAutoencoder } from '../core/models/conv-ae.js';
import { predictColdVectors } from '../core/models/cold-start.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { PgListener } from '../database/pg-listener.js';
import { PgPool } from '../database/pg-pool.js';
import { encodePng, readItemImages } from '../images/images.queries.js';
import { VISUAL_SLOT } from '../registry/activation.js';
import { ModelRegistry } from '../registry/model-registry.service.js';
import type { LoadedVersion } from './loaded-version.js';

/** Announced by the item_images triggers when an image is set, replaced or removed. */
export const IMAGES_CHANNEL = 'recoder_item_images_changed';

/** The active visual model with the embeddings of every current item image. */
interface VisualState {
  versionId: number;
  model: ConvAutoencoder;
  /** Internal item ids in embedding-row order. */
  itemIds: number[];
  rowOf: Map<number, number>;
  embeddings: Float32Array;
  index: VectorIndex;
  /** Reconstruction error of each row, sorted copy for percentiles. */
  errors: Float64Array;
  sortedErrors: Float64Array;
  generation: number;
}

/** Cold-start vectors of one collaborative version: items with an image and no column in it. */
export interface ColdStartVectors {
  itemIds: number[];
  /** [itemIds.length × dim], in the collaborative model's item-vector space ([W_i, b_i]). */
  vectors: Float32Array;
  dim: number;
}

/**
 * Serves the active convolutional image autoencoder (slot "visual"): visual similarity through a
 * cosine index over the embeddings of every item image in the catalog (re-encoded when images
 * change), reconstructed thumbnails, and cold start — a ridge map from visual embeddings to the
 * active collaborative version's item vectors, fitted on the items that have both, predicts a
 * vector for items that have an image but no interactions in that version.
 */
@Injectable()
export class VisualModelService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('VisualModel');
  private tf: Tf | undefined;
  private state: VisualState | null = null;
  private generation = 0;
  private refreshing: Promise<void> | null = null;
  private again = false;
  private cold: { key: string; value: ColdStartVectors | null } | null = null;
  private closed = false;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly pool: PgPool,
    private readonly listener: PgListener,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async onModuleInit(): Promise<void> {
    this.tf = (await initBackend({ prefer: this.env.tfBackend, native: this.env.nativeGemm })).tf;
    await this.registry.onActivation({
      onActivation: ({ slot }) => slot === VISUAL_SLOT && void this.refresh(), // ActiveModelService logs malformed ones
      onReconnect: () => void this.refresh(),
    });
    await this.listener.subscribe(IMAGES_CHANNEL, {
      onNotify: () => void this.refresh(true),
      onReconnect: () => undefined,
    });
    await this.refresh();
  }

  /** The active visual version id this process serves, or null. */
  get versionId(): number | null {
    return this.state?.versionId ?? null;
  }

  /** Whether a visual model serves. */
  get active(): boolean {
    return this.state !== null;
  }

  /**
   * Loads the active visual version (or re-encodes the catalog's images when `imagesChanged`);
   * concurrent calls coalesce. Resolves when this process serves the result.
   */
  refresh(imagesChanged = false): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        try {
          await this.reload(imagesChanged);
        } catch (error) {
          this.logger.error(`visual model: ${(error as Error).stack ?? String(error)}`);
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async reload(imagesChanged: boolean): Promise<void> {
    const id = await this.registry.activeId(VISUAL_SLOT);
    if (id === null) {
      this.replace(null);
      return;
    }
    let model = this.state?.versionId === id ? this.state.model : null;
    if (model && !imagesChanged) return;
    let fresh = false;
    if (!model) {
      const artifact = await this.registry.load(id);
      if (!artifact || artifact.kind !== 'CONV_AE')
        throw new Error(`visual model version ${id} not found or not CONV_AE`);
      model = ConvAutoencoder.fromBytes(this.tf!, artifact.weights);
      fresh = true;
    }
    try {
      const { size, channels } = model.hyperparameters;
      const images = await readItemImages(this.pool, { size, channels });
      const batch = { pixels: images.pixels, count: images.itemIds.length };
      const embeddings = batch.count > 0 ? model.encode(batch) : new Float32Array(0);
      const errors = batch.count > 0 ? model.reconstructionErrors(batch) : new Float64Array(0);
      const index = await buildVectorIndex('cosine', model.latentDim, embeddings, {
        exactBelow: this.env.exactSearchBelow,
        hnsw: { ...this.env.hnsw, seed: 101 },
        yieldEvery: () => new Promise((resolve) => setImmediate(resolve)),
      });
      this.replace({
        versionId: id,
        model,
        itemIds: images.itemIds,
        rowOf: new Map(images.itemIds.map((item, row) => [item, row])),
        embeddings,
        index,
        errors,
        sortedErrors: Float64Array.from(errors).sort(),
        generation: ++this.generation,
      });
      this.logger.log(`visual model version ${id}: ${batch.count} item images encoded`);
    } catch (error) {
      if (fresh) model.dispose();
      throw error;
    }
  }

  private replace(next: VisualState | null): void {
    const old = this.state;
    this.state = next;
    this.cold = null;
    if (old) {
      old.index.dispose();
      if (old.model !== next?.model) {
        // In-flight requests may still hold the old model for a moment.
        setTimeout(() => old.model.dispose(), 30_000).unref();
      }
    }
  }

  private require(): VisualState {
    if (!this.state)
      throw new DomainError(
        ErrorCode.NO_ACTIVE_MODEL,
        'no visual model is active: train one (trainModel kind CONV_AE) and activate it',
      );
    return this.state;
  }

  private rowOrThrow(s: VisualState, itemId: number, externalId: string, field: string): number {
    const row = s.rowOf.get(itemId);
    if (row === undefined)
      throw new DomainError(ErrorCode.NOT_IN_MODEL, `item "${externalId}" has no image (setItemImage)`, field, {
        id: externalId,
      });
    return row;
  }

  /** Items whose visual embeddings are closest (cosine) to the item's; `exclude` are internal ids. */
  similar(
    itemId: number,
    externalId: string,
    k: number,
    exclude: Set<number>,
  ): { itemId: number; score: number; versionId: number }[] {
    const s = this.require();
    const row = this.rowOrThrow(s, itemId, externalId, 'itemId');
    const excludedRows = new Set<number>([row]);
    for (const id of exclude) {
      const r = s.rowOf.get(id);
      if (r !== undefined) excludedRows.add(r);
    }
    const found: Neighbor[] = s.index.search(s.index.vector(row), k, excludeSet(excludedRows));
    return found.map((n) => ({ itemId: s.itemIds[n.index], score: n.score, versionId: s.versionId }));
  }

  /** The decoded thumbnail (PNG) of an item's image, its error and the error's percentile in the catalog. */
  async reconstruct(
    itemId: number,
    externalId: string,
  ): Promise<{ png: string; error: number; percentile: number; versionId: number }> {
    const s = this.require();
    const { size, channels } = s.model.hyperparameters;
    const images = await readItemImages(this.pool, { size, channels, itemIds: [itemId] });
    if (images.itemIds.length === 0)
      throw new DomainError(
        ErrorCode.NOT_IN_MODEL,
        `item "${externalId}" has no image of ${size}×${size}×${channels} (setItemImage)`,
        'itemId',
        { id: externalId },
      );
    const batch = { pixels: images.pixels, count: 1 };
    const decoded = s.model.reconstruct(batch);
    const error = s.model.reconstructionErrors(batch)[0];
    const pixels = Uint8Array.from(decoded, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
    const png = encodePng(pixels, size, channels).toString('base64');
    return { png, error, percentile: percentileOf(s.sortedErrors, error), versionId: s.versionId };
  }

  /**
   * Predicted collaborative vectors for items that have an image but no column in `version`
   * (new items), or null without a visual model, an embedding model, or enough items to fit the map.
   * Cached per (collaborative version, visual state).
   */
  coldStart(version: LoadedVersion): ColdStartVectors | null {
    const s = this.state;
    const matrix = s ? version.served.itemVectorMatrix() : null;
    if (!s || !matrix) return null;
    const key = `${version.id}:${s.generation}`;
    if (this.cold?.key === key) return this.cold.value;
    const both: number[] = [];
    const cold: number[] = [];
    s.itemIds.forEach((id, row) => (version.columnOf(id) >= 0 ? both.push(row) : cold.push(row)));
    let value: ColdStartVectors | null = null;
    const p = s.model.latentDim;
    if (cold.length > 0) {
      const x = new Float32Array(both.length * p);
      const y = new Float32Array(both.length * matrix.dim);
      both.forEach((row, k) => {
        x.set(s.embeddings.subarray(row * p, (row + 1) * p), k * p);
        const col = version.columnOf(s.itemIds[row]);
        y.set(matrix.vectors.subarray(col * matrix.dim, (col + 1) * matrix.dim), k * matrix.dim);
      });
      const xc = new Float32Array(cold.length * p);
      cold.forEach((row, k) => xc.set(s.embeddings.subarray(row * p, (row + 1) * p), k * p));
      const vectors = predictColdVectors(x, y, xc, p, matrix.dim);
      if (vectors) value = { itemIds: cold.map((row) => s.itemIds[row]), vectors, dim: matrix.dim };
    }
    this.cold = { key, value };
    return value;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.refreshing?.catch(() => undefined);
    this.state?.index.dispose();
    this.state?.model.dispose();
    this.state = null;
  }
}

/** Share (0–100) of `sorted` at or below `value`. */
function percentileOf(sorted: Float64Array, value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length ? (100 * lo) / sorted.length : 0;
}
