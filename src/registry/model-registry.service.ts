import { Injectable } from '@nestjs/common';
import { PgListener } from '../database/pg-listener.js';
import { PgPool } from '../database/pg-pool.js';
import { PrismaService } from '../database/prisma.service.js';
import type { Tf } from '../core/models/autorec.js';
import { ACTIVATION_CHANNEL, activateModelVersion, parseActivation } from './activation.js';
import {
  activeModelVersionId,
  getModelVersion,
  listModelVersions,
  loadModelVersion,
  saveModelVersion,
  type ModelVersionArtifact,
  type ModelVersionSummary,
  type NewModelVersion,
} from './model-versions.queries.js';
import { buildVersionPopulation, type BuildPopulationHooks } from './population.js';

/** What a subscriber to activations hears (see {@link ModelRegistry.onActivation}). */
export interface ActivationSubscriber {
  /** A version was activated for `slot` (by any process). */
  onActivation: (activation: { slot: string; versionId: number }) => void;
  /** A notice on the channel that is not an activation. */
  onMalformed?: (payload: string) => void;
  /** The listener reconnected: an activation may have been missed. */
  onReconnect?: () => void;
}

/**
 * Model versions for the rest of the server: stored (Prisma), loaded with their weights (plain
 * `pg`), activated per slot with a NOTIFY to every process, and that notice heard. Training saves
 * and activates through it, serving loads and listens; neither knows the other.
 */
@Injectable()
export class ModelRegistry {
  constructor(
    private readonly prisma: PrismaService,
    private readonly pool: PgPool,
    private readonly listener: PgListener,
  ) {}

  save(version: NewModelVersion): Promise<ModelVersionSummary> {
    return saveModelVersion(this.prisma, version);
  }

  list(limit?: number): Promise<ModelVersionSummary[]> {
    return listModelVersions(this.prisma, limit);
  }

  get(id: number): Promise<ModelVersionSummary | null> {
    return getModelVersion(this.prisma, id);
  }

  /** A version with its item ids, user ids and weights, or null. */
  load(id: number): Promise<ModelVersionArtifact | null> {
    return loadModelVersion(this.pool, id);
  }

  /**
   * Computes and stores a version's population (src/registry/population.ts) from the current
   * interactions, once per version; null when it already has one or does not exist.
   */
  storePopulation(
    tf: Tf,
    id: number,
    hooks?: BuildPopulationHooks,
  ): Promise<{ users: number; seconds: number; lists: boolean } | null> {
    return buildVersionPopulation(tf, this.pool, id, hooks);
  }

  /** The version serving `slot` ("default" unless given), or null. */
  activeId(slot?: string): Promise<number | null> {
    return activeModelVersionId(this.prisma, slot);
  }

  /** Activates a version for its slot in every process; false if it does not exist. */
  activate(id: number, slot?: string): Promise<boolean> {
    return activateModelVersion(this.prisma, id, slot);
  }

  /** Subscribes to activation notices (one LISTEN connection per process, shared). */
  onActivation(subscriber: ActivationSubscriber): Promise<void> {
    return this.listener.subscribe(ACTIVATION_CHANNEL, {
      onNotify: (payload) => {
        const activation = parseActivation(payload);
        if (activation) subscriber.onActivation(activation);
        else subscriber.onMalformed?.(payload);
      },
      onReconnect: subscriber.onReconnect,
    });
  }
}
