import { Inject, Injectable, Logger } from '@nestjs/common';
import { toItem } from '../catalog/catalog.mappers.js';
import { ItemCache } from '../catalog/item-cache.service.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { checkLimit } from '../common/validation.js';
import { DeadlineExceededError } from '../core/serving/micro-batcher.js';
import { ActiveModelService } from './active-model.service.js';
import { LatentSource, type SyntheticUser } from './dto/serving.types.js';
import { ModelPool } from './model-pool.js';
import { admissionError, ModelWorkService } from './model-work.service.js';

/** Most items per synthetic user in `sampleSyntheticUsers`. */
export const MAX_SYNTHETIC_ITEMS = 1000;

/** Synthetic users drawn from the active Mult-VAE version (load tests, demo data). */
@Injectable()
export class SyntheticUsersService {
  private readonly logger = new Logger('Serving');

  constructor(
    private readonly items: ItemCache,
    private readonly models: ActiveModelService,
    private readonly threads: ModelPool,
    private readonly modelWork: ModelWorkService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  /**
   * Synthetic users from the active Mult-VAE version: prior draws decoded and sampled without
   * replacement (items deleted since training are never drawn). Synchronous model work: count ≤
   * the page size and itemsPerUser ≤ 1,000 keep it to one decoder pass.
   */
  async sampleSyntheticUsers(
    count: number,
    itemsPerUser: number,
    seed: number | null | undefined,
    latent: LatentSource = LatentSource.PRIOR,
  ): Promise<SyntheticUser[]> {
    checkLimit('count', count, this.env.maxPageSize);
    checkLimit('itemsPerUser', itemsPerUser, MAX_SYNTHETIC_ITEMS);
    const version = this.models.require();
    if (!version.served.canSampleUsers) {
      throw new DomainError(
        ErrorCode.UNSUPPORTED_BY_MODEL,
        `sampleSyntheticUsers needs a Mult-VAE version; version ${version.id} is ${version.summary.kind}`,
      );
    }
    const exclude = version.deletedColumns;
    const available = version.served.numItems - exclude.size;
    if (itemsPerUser > available) {
      throw new DomainError(
        ErrorCode.BAD_USER_INPUT,
        `itemsPerUser: must be at most ${available}, the items of model version ${version.id}`,
        'itemsPerUser',
      );
    }
    let fitted: { mean: Float32Array; std: Float32Array } | undefined;
    if (latent === LatentSource.POPULATION) {
      await version.served.populationReady();
      fitted = version.served.populationLatent ?? undefined;
      if (!fitted)
        throw new DomainError(
          ErrorCode.UNSUPPORTED_BY_MODEL,
          `latent: model version ${version.id} has no population to fit (no user history)`,
          'latent',
        );
    }
    const drawSeed = seed ?? Math.floor(Math.random() * 2 ** 32);
    let samples: Int32Array[] | null = null;
    if (this.threads.serves(version.id)) {
      // In a model thread (the decoder pass and the draws are the heaviest call a reader can make).
      const deleted = Int32Array.from(Array.from(version.itemOfColumn).flatMap((id, c) => (id < 0 ? [c] : [])));
      const latentFit = fitted
        ? { mean: Float32Array.from(fitted.mean), std: Float32Array.from(fitted.std) }
        : undefined;
      try {
        samples = await this.threads.sampleUsers(version.id, count, itemsPerUser, drawSeed, deleted, latentFit);
      } catch (error) {
        if (error instanceof DeadlineExceededError) throw admissionError(error);
        this.logger.warn(`model threads: ${(error as Error).message}; sampling on the event loop`);
      }
    }
    samples ??= (
      await this.modelWork.run(() =>
        version.served.sampleUsers(count, itemsPerUser, drawSeed, { exclude, latent: fitted }),
      )
    ).map((s) => s.items);
    const ids = samples.map((s) => Array.from(s, (c) => version.itemOfColumn[c]));
    const byId = await this.items.byInternalIds([...new Set(ids.flat())]);
    return ids.map((user) => ({ items: user.filter((id) => byId.has(id)).map((id) => toItem(byId.get(id)!)) }));
  }
}
