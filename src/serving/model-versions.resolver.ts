import { Inject } from '@nestjs/common';
import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { notFound } from '../common/domain-error.js';
import { checkLimit } from '../common/validation.js';
import { VISUAL_SLOT } from '../registry/activation.js';
import { ModelVersion } from '../registry/dto/model-version.type.js';
import { ModelRegistry } from '../registry/model-registry.service.js';
import type { ModelVersionSummary } from '../registry/model-versions.queries.js';
import { ActiveModelService } from './active-model.service.js';
import { VisualModelService } from './visual-model.service.js';
import { SearchKind, ServingStatus } from './dto/serving.types.js';
import { Requires } from '../auth/roles.js';

@Resolver(() => ModelVersion)
@Requires('READER')
export class ModelVersionsResolver {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly models: ActiveModelService,
    private readonly visual: VisualModelService,
    @Inject(ENV) private readonly env: Env,
  ) {}

  @Query(() => [ModelVersion], { description: 'Trained model versions, newest first, with their metrics.' })
  async modelVersions(@Args('first', { type: () => Int, defaultValue: 20 }) first: number): Promise<ModelVersion[]> {
    checkLimit('first', first, this.env.maxPageSize);
    const [versions, active] = await Promise.all([this.registry.list(first), this.activeIds()]);
    return versions.map((v) => toModelVersion(v, active));
  }

  @Query(() => ModelVersion, { description: 'One model version; NOT_FOUND if unknown.' })
  async modelVersion(@Args('id', { type: () => Int }) id: number): Promise<ModelVersion> {
    const [version, active] = await Promise.all([this.registry.get(id), this.activeIds()]);
    if (!version) throw notFound('Model version', String(id), 'id');
    return toModelVersion(version, active);
  }

  @Requires('ADMIN')
  @Mutation(() => ModelVersion, {
    description:
      'Makes a version the active one for every API process (they swap atomically when it is loaded); returns once this process serves it. Rollback = activate an older version.',
  })
  async activateModelVersion(@Args('id', { type: () => Int }) id: number): Promise<ModelVersion> {
    const version = await this.registry.get(id);
    if (version?.kind === 'CONV_AE') {
      // The image autoencoder serves its own slot ("visual") beside the collaborative version.
      await this.registry.activate(id);
      await this.visual.refresh();
      return toModelVersion((await this.registry.get(id))!, [id]);
    }
    return toModelVersion(await this.models.activate(id), [id]);
  }

  /** The versions active in the collaborative ("default") and visual slots. */
  private async activeIds(): Promise<number[]> {
    const ids = await Promise.all([this.registry.activeId(), this.registry.activeId(VISUAL_SLOT)]);
    return ids.filter((id): id is number => id !== null);
  }

  @Query(() => ServingStatus, { description: 'The model version this API process serves and how.' })
  servingStatus(): ServingStatus {
    const v = this.models.version;
    return {
      modelVersion: v ? toModelVersion(v.summary, [v.id]) : null,
      search: v ? (v.served.searchKind === 'hnsw' ? SearchKind.HNSW : SearchKind.EXACT) : null,
      populationSize: v?.served.populationSize ?? 0,
      loadSeconds: v?.loadSeconds ?? null,
      warm: v?.warm ?? false,
      backend: this.models.backendName,
    };
  }
}

function toModelVersion(v: ModelVersionSummary, activeIds: number[]): ModelVersion {
  return { ...v, active: activeIds.includes(v.id) };
}
