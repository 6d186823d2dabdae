import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import { HistoryCache } from '../catalog/history-cache.service.js';
import { ENV } from '../config/config.module.js';
import type { Env } from '../config/env.js';
import { DomainError, ErrorCode } from '../common/domain-error.js';
import { initBackend } from '../core/engine/backend.js';
import type { Tf } from '../core/models/autorec.js';
import { PgPool, READ_POOL } from '../database/pg-pool.js';
import { ModelRegistry } from '../registry/model-registry.service.js';
import type { ModelVersionSummary } from '../registry/model-versions.queries.js';
import { loadVersion, type LoadedVersion } from './loaded-version.js';
import { ModelPool } from './model-pool.js';

/** A replaced version is disposed this long after the swap (requests that hold it finish first). */
const DISPOSE_DELAY_MS = 30_000;

/**
 * Holds the model version this process serves. At boot it loads the active version from Postgres;
 * it LISTENs for activations (from any process) and loads the new version beside the old one,
 * then swaps a single reference, so a request sees either the old or the new version, never a
 * half-loaded one. A version that fails to load is logged and the old one keeps serving.
 */
@Injectable()
export class ActiveModelService implements OnModuleInit, OnModuleDestroy, OnApplicationShutdown {
  private readonly logger = new Logger('Models');
  private current: LoadedVersion | null = null;
  /** The version the database says is active, as last seen (may still be loading). */
  private wanted: number | null = null;
  private readonly loading = new Map<number, Promise<LoadedVersion>>();
  private readonly disposeTimers = new Set<NodeJS.Timeout>();
  /** Versions kept loaded besides the active one (a running experiment's arms; see pin). */
  private readonly pinned = new Map<number, LoadedVersion>();
  private readonly disposed = new WeakSet<LoadedVersion>();
  private closed = false;
  private tf: Tf | undefined;
  backendName = '';

  constructor(
    private readonly registry: ModelRegistry,
    private readonly pool: PgPool,
    @Inject(ENV) private readonly env: Env,
    private readonly threads: ModelPool,
    /** DATABASE_READ_URL's pool (or the primary): the population read at activation. */
    @Inject(READ_POOL) private readonly reads: PgPool,
    private readonly histories: HistoryCache,
  ) {}

  async onModuleInit(): Promise<void> {
    const backend = await initBackend({
      prefer: this.env.tfBackend,
      native: this.env.nativeGemm,
      log: (m) => this.logger.log(m),
    });
    this.tf = backend.tf;
    this.backendName = backend.name;
    await this.registry.onActivation({
      onActivation: (activation) => {
        if (activation.slot !== 'default') return;
        this.logger.log(`activation of model version ${activation.versionId} announced`);
        void this.refresh();
      },
      onMalformed: (payload) => this.logger.warn(`ignored a malformed activation notice: ${payload}`),
      onReconnect: () => void this.refresh(), // an activation may have been missed
    });
    await this.refresh();
  }

  /** The version serving now, or null when none is active (or it could not be loaded). */
  get version(): LoadedVersion | null {
    return this.current;
  }

  /** The version serving now; NO_ACTIVE_MODEL when there is none. */
  require(): LoadedVersion {
    if (!this.current) {
      throw new DomainError(
        ErrorCode.NO_ACTIVE_MODEL,
        'no model version is active: train one (npm run train) and activate it (activateModelVersion)',
      );
    }
    return this.current;
  }

  /**
   * Activates a version for every process (NOTIFY) and returns once this process serves it.
   * NOT_FOUND if it does not exist; the error of a version that cannot be loaded.
   */
  async activate(id: number): Promise<ModelVersionSummary> {
    const found = await this.registry.activate(id);
    if (!found) throw new DomainError(ErrorCode.NOT_FOUND, `model version ${id} not found`, 'id', { id });
    this.wanted = id;
    const loaded = await this.ensureLoaded(id);
    this.swap(loaded);
    await loaded.served.populationReady().catch(() => undefined); // logged by swap
    return (await this.registry.get(id))!;
  }

  /** Re-reads the active version id and loads it if it is not the one serving. */
  async refresh(): Promise<void> {
    const id = await this.registry.activeId();
    this.wanted = id;
    if (id === null || id === this.current?.id) return;
    try {
      this.swap(await this.ensureLoaded(id));
    } catch (error) {
      if (this.closed) return; // shutting down: the pools are closing under the load
      this.logger.error(
        `model version ${id} could not be loaded; ${this.current ? `still serving version ${this.current.id}` : 'no model serving'}: ${(error as Error).stack ?? String(error)}`,
      );
    }
  }

  /**
   * Keeps exactly these versions loaded besides the active one (an experiment's arms: every process
   * serves every arm, each version loaded once — the active version is shared, not loaded twice).
   * Versions no longer pinned nor active are disposed after the usual delay. Resolves with the
   * versions that are loaded; one that cannot be loaded is logged and left out. Callers serialise calls.
   */
  async pin(ids: readonly number[]): Promise<Map<number, LoadedVersion>> {
    const loaded = new Map<number, LoadedVersion>();
    for (const id of new Set(ids)) {
      try {
        loaded.set(id, await this.ensureLoaded(id));
      } catch (error) {
        if (!this.closed)
          this.logger.error(`model version ${id} could not be loaded for an experiment: ${(error as Error).message}`);
      }
    }
    const before = [...this.pinned.values()];
    this.pinned.clear();
    for (const [id, v] of loaded) this.pinned.set(id, v);
    for (const v of before) if (!loaded.has(v.id)) this.retire(v);
    return loaded;
  }

  private ensureLoaded(id: number): Promise<LoadedVersion> {
    if (this.current?.id === id) return Promise.resolve(this.current);
    const pinned = this.pinned.get(id);
    if (pinned) return Promise.resolve(pinned);
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  private async load(id: number): Promise<LoadedVersion> {
    const artifact = await this.registry.load(id);
    if (!artifact) throw new Error(`model version ${id} not found`);
    // The population's model work (errors, user vectors) runs in a model thread once the version is there.
    let inThreads: (yes: boolean) => void = () => undefined;
    const threadsHoldIt = new Promise<boolean>((resolve) => (inThreads = resolve));
    const loaded = await loadVersion(this.pool, artifact, {
      tf: this.tf!,
      reads: this.reads,
      served: {
        index: { exactBelow: this.env.exactSearchBelow, hnsw: { ...this.env.hnsw, seed: 100 } },
        yieldEvery: () => new Promise((resolve) => setImmediate(resolve)),
        deferPopulation: true,
        populationWork: async (population, rows) => {
          if (!(await threadsHoldIt)) throw new Error('not in the model threads');
          return this.threads.population(id, population, rows);
        },
      },
      log: (m) => this.logger.log(m),
    });
    // Into the model threads before it serves (a batch of this version always finds it there).
    try {
      await this.threads.load(id, artifact.kind, artifact.weights);
      loaded.onDispose(() => this.threads.unload(id));
    } catch (error) {
      if (!this.closed)
        this.logger.warn(
          `model version ${id}: the model threads could not load it (${(error as Error).message}); its batches run on the event loop`,
        );
    } finally {
      inThreads(this.threads.serves(id));
    }
    return loaded;
  }

  /** Makes `next` the serving version if it is still the wanted one; the old one is disposed later. */
  private swap(next: LoadedVersion): void {
    if (this.current === next) return;
    if (this.closed || (this.wanted !== null && this.wanted !== next.id)) {
      this.logger.log(`model version ${next.id} loaded but version ${this.wanted} is now active; discarding it`);
      this.retire(next, 0);
      return;
    }
    const old = this.current;
    this.current = next;
    this.logger.log(`serving model version ${next.id}${old ? ` (was ${old.id})` : ''}`);
    const t0 = performance.now();
    next.served
      .populationReady()
      .then(
        () =>
          this.logger.log(
            `model version ${next.id}: ${next.served.populationSize} users' vectors and reconstruction errors ready (${next.populationSource}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
          ),
        (error: unknown) => {
          // Shutting down ends the database pools under a population still being read: not a fault.
          if (!this.closed)
            this.logger.error(
              `model version ${next.id}: population failed: ${(error as Error).stack ?? String(error)}`,
            );
        },
      )
      .then(() =>
        next.warmSimilarItems(
          () => new Promise((resolve) => setImmediate(resolve)),
          this.threads.serves(next.id)
            ? (from, to, depth, deleted) => this.threads.similarLists(next.id, from, to, depth, deleted)
            : undefined,
        ),
      )
      .catch((error: unknown) => {
        if (!this.closed) this.logger.error(`model version ${next.id}: similar items: ${String(error)}`);
      })
      // The histories of the most recently active users in this version's view: the first
      // requests after a start or an activation then read nothing from PostgreSQL.
      .then(() =>
        this.histories.prefetch(
          next.historyView,
          () => new Promise((resolve) => setImmediate(resolve)),
          () => this.closed || this.current !== next,
        ),
      )
      .then(
        (users) => {
          if (users > 0)
            this.logger.log(
              `model version ${next.id}: ${users} users' histories read ahead (${this.histories.size} interactions cached)`,
            );
        },
        (error: unknown) => {
          if (!this.closed)
            this.logger.warn(`model version ${next.id}: reading histories ahead failed: ${String(error)}`);
        },
      )
      .finally(() => {
        next.warm = true;
      });
    if (old) this.retire(old);
  }

  /** Disposes `v` after `delayMs` unless it is active or pinned by then. */
  private retire(v: LoadedVersion, delayMs = DISPOSE_DELAY_MS): void {
    const dispose = () => {
      if (v === this.current || this.pinned.get(v.id) === v || this.disposed.has(v)) return;
      this.disposed.add(v);
      v.dispose();
    };
    if (delayMs === 0) return dispose();
    const timer = setTimeout(() => {
      this.disposeTimers.delete(timer);
      dispose();
    }, delayMs);
    timer.unref();
    this.disposeTimers.add(timer);
  }

  /** Runs before the database pools close (they belong to a global module, destroyed last). */
  onModuleDestroy(): void {
    this.closed = true;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const t of this.disposeTimers) clearTimeout(t);
    await Promise.allSettled(this.loading.values());
    const all = new Set([...this.pinned.values(), ...(this.current ? [this.current] : [])]);
    this.pinned.clear();
    this.current = null;
    for (const v of all) if (!this.disposed.has(v)) v.dispose();
  }
}
