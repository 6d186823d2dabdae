import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
import { RecoderError, RecoderTimeoutError, isTransient } from './errors.js';
import { EventBuffer, type EventBufferOptions, type TrackEvent, type TrackStats } from './event-buffer.js';
import { PopularFallback, type FallbackOptions, type RecommendationsResult } from './fallback.js';
import {
  ActivateModelVersionDocument,
  AnomalyScoreDocument,
  AnomalyScoreForHistoryDocument,
  DeleteUserDocument,
  ModelVersionsDocument,
  PopularItemsDocument,
  RecommendationsDocument,
  RecommendationsForHistoryDocument,
  ReconstructionDocument,
  ReconstructionForHistoryDocument,
  RecordInteractionsDocument,
  SetItemHiddenDocument,
  SetItemImageDocument,
  SimilarItemsDocument,
  SimilarUsersDocument,
  TrackBatchDocument,
  TrainingRunDocument,
  TrainModelDocument,
  UpsertItemsDocument,
  UpsertUsersDocument,
  type ActivateModelVersionMutation,
  type AnomalyScoreQuery,
  type AnomalyScoreForHistoryQuery,
  type DeleteUserMutation,
  type ModelVersionsQuery,
  type ModelVersionsQueryVariables,
  type PopularItemsQuery,
  type PopularItemsQueryVariables,
  type RecommendationsForHistoryQueryVariables,
  type RecommendationsQueryVariables,
  type ReconstructionQuery,
  type ReconstructionQueryVariables,
  type ReconstructionForHistoryQuery,
  type ReconstructionForHistoryQueryVariables,
  type RecordInteractionInput,
  type RecordInteractionsMutation,
  type SetItemHiddenMutation,
  type SetItemImageMutation,
  type SimilarItemsQuery,
  type SimilarItemsQueryVariables,
  type SimilarUsersQuery,
  type SimilarUsersQueryVariables,
  type TrainingRunQuery,
  type TrainModelInput,
  type TrainModelMutation,
  type UpsertItemInput,
  type UpsertItemsMutation,
  type UpsertUserInput,
  type UpsertUsersMutation,
} from './generated/graphql.js';
import { Transport, withRetries, type RetryPolicy } from './transport.js';

export interface RecoderClientOptions {
  /** The GraphQL endpoint, e.g. "http://127.0.0.1:4000/graphql" (a base URL without a path gets "/graphql"). */
  url: string;
  /** An API key (rk_…), sent as "Authorization: Bearer <key>". */
  apiKey?: string;
  /** Abort a request after this many milliseconds (default 10,000; 0: never). */
  timeoutMs?: number;
  /** Retries of a request after a transient failure (default 2). See {@link RecoderClient} for which requests are retried. */
  retries?: number;
  /** First retry delay, doubled per retry with jitter (default 100 ms), at most maxRetryDelayMs (default 2,000 ms). */
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the RecoderRateLimitedError is thrown (default 10,000 ms). */
  maxRetryAfterMs?: number;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** A fetch implementation (default: the global fetch). */
  fetch?: typeof fetch;
  /** The event buffer behind track() (batch size, flush interval, memory bound, retry budget). */
  track?: EventBufferOptions;
  /** Caller-side fallback for recommendations: off unless given. See {@link FallbackOptions}. */
  fallback?: FallbackOptions;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  retries?: number;
  headers?: Record<string, string>;
}

/** A GraphQL document the client can send: a generated typed document, or a string with explicit types. */
export type RecoderDocument<TResult, TVariables> = DocumentTypeDecoration<TResult, TVariables> | string;

export type { RecommendationsResult };

/**
 * The Recoder client. One per process; safe to share across requests.
 *
 * Retries: queries, upserts, setItemHidden, setItemImage, activateModelVersion and
 * recordInteractions (whose events without an eventId get one, so a resend stores nothing twice) are
 * retried on any transient failure (no answer, timeout, HTTP 429/5xx, RATE_LIMITED,
 * SERVICE_UNAVAILABLE, INTERNAL_SERVER_ERROR); deleteUser and trainModel only when the server
 * refused them before running them (429, SERVICE_UNAVAILABLE, connection refused).
 */
export class RecoderClient {
  private readonly transport: Transport;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly buffer: EventBuffer;
  private readonly fallback?: PopularFallback;
  private readonly idSession = globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16);
  private idSequence = 0;

  constructor(options: RecoderClientOptions) {
    if (!options || typeof options.url !== 'string' || options.url === '')
      throw new TypeError('RecoderClient: `url` is required (e.g. "http://127.0.0.1:4000/graphql")');
    const url = new URL(options.url);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
    this.transport = new Transport({
      url: url.toString(),
      apiKey: options.apiKey,
      headers: options.headers,
      fetch: options.fetch,
    });
    this.timeoutMs = nonNegative('timeoutMs', options.timeoutMs, 10_000);
    this.policy = {
      retries: nonNegative('retries', options.retries, 2),
      baseDelayMs: nonNegative('retryBaseDelayMs', options.retryBaseDelayMs, 100),
      maxDelayMs: nonNegative('maxRetryDelayMs', options.maxRetryDelayMs, 2000),
      maxRetryAfterMs: nonNegative('maxRetryAfterMs', options.maxRetryAfterMs, 10_000),
    };
    this.buffer = new EventBuffer(async (interactions) => {
      // One attempt per call: the buffer runs its own retries (with its longer budget).
      const data = await this.transport.send(
        String(TrackBatchDocument),
        { interactions },
        { operationName: 'TrackBatch', timeoutMs: this.timeoutMs },
      );
      return { duplicates: (data as { recordInteractions: { duplicates: number } }).recordInteractions.duplicates };
    }, options.track);
    if (options.fallback)
      this.fallback = new PopularFallback(options.fallback, (variables, signal) =>
        this.popularItems(variables, { signal }),
      );
  }

  /** The endpoint requests go to. */
  get url(): string {
    return this.transport.url;
  }

  /**
   * Sends any GraphQL document: a typed document (its result and variables types are checked) or a
   * string with explicit type arguments. Retried as a query (idempotent) unless `idempotent: false`.
   */
  async request<TResult, TVariables extends Record<string, unknown> = Record<string, never>>(
    document: RecoderDocument<TResult, TVariables>,
    variables?: TVariables,
    options: CallOptions & { idempotent?: boolean; operationName?: string } = {},
  ): Promise<TResult> {
    const query = String(document);
    const operationName = options.operationName ?? /^\s*(?:query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)/.exec(query)?.[1];
    return this.execute<TResult>(query, operationName, variables, options.idempotent ?? true, options);
  }

  // ── ingest ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Stores interactions in one transaction (all or none; at most RECODER_MAX_BATCH_SIZE). Events
   * without an eventId get a generated one, so a retry after an unanswered request stores nothing
   * twice; `duplicates` counts events the server already had. For hot paths use {@link track}.
   */
  async recordInteractions(
    interactions: readonly RecordInteractionInput[],
    options?: CallOptions,
  ): Promise<RecordInteractionsMutation['recordInteractions']> {
    const withIds = interactions.map((e) =>
      e.eventId ? e : { ...e, eventId: `${this.idSession}-r${++this.idSequence}` },
    );
    const data = await this.run(
      RecordInteractionsDocument,
      'RecordInteractions',
      { interactions: withIds },
      true,
      options,
    );
    return data.recordInteractions;
  }

  /** Creates or updates items (only the fields given). */
  async upsertItems(
    items: readonly UpsertItemInput[],
    options?: CallOptions,
  ): Promise<UpsertItemsMutation['upsertItems']> {
    return (await this.run(UpsertItemsDocument, 'UpsertItems', { items: [...items] }, true, options)).upsertItems;
  }

  /** Creates users or replaces the attributes given. */
  async upsertUsers(
    users: readonly UpsertUserInput[],
    options?: CallOptions,
  ): Promise<UpsertUsersMutation['upsertUsers']> {
    return (await this.run(UpsertUsersDocument, 'UpsertUsers', { users: [...users] }, true, options)).upsertUsers;
  }

  /** Hides an item from recommendations and popularity, or shows it again. */
  async setItemHidden(
    itemId: string,
    hidden: boolean,
    options?: CallOptions,
  ): Promise<SetItemHiddenMutation['setItemHidden']> {
    return (await this.run(SetItemHiddenDocument, 'SetItemHidden', { itemId, hidden }, true, options)).setItemHidden;
  }

  /** Privacy deletion: removes the user and all their interactions (ADMIN). */
  async deleteUser(userId: string, options?: CallOptions): Promise<DeleteUserMutation['deleteUser']> {
    return (await this.run(DeleteUserDocument, 'DeleteUser', { userId }, false, options)).deleteUser;
  }

  /** Sets an item's picture: a PNG or JPEG as base64 (or a data: URL), or its bytes. */
  async setItemImage(
    itemId: string,
    image: string | Uint8Array,
    options?: CallOptions,
  ): Promise<SetItemImageMutation['setItemImage']> {
    const encoded = typeof image === 'string' ? image : toBase64(image);
    return (await this.run(SetItemImageDocument, 'SetItemImage', { itemId, image: encoded }, true, options))
      .setItemImage;
  }

  // ── serve ───────────────────────────────────────────────────────────────────────────────────

  /**
   * Items for a user from the active model (popularity when it cannot be used: see `source`, `reason`).
   * With the `fallback` option, answers from cached popular items when the server does not answer in time.
   */
  async recommendations(
    variables: RecommendationsQueryVariables,
    options?: CallOptions,
  ): Promise<RecommendationsResult> {
    const call = (signal?: AbortSignal) =>
      this.run(RecommendationsDocument, 'Recommendations', variables, true, withSignal(options, signal)).then(
        (d) => d.recommendations,
      );
    return this.fallback
      ? this.fallback.guard(call, variables.filter ?? undefined, variables.limit ?? undefined, [], options?.signal)
      : call();
  }

  /** Recommendations for an anonymous session: the given items are its history. Same fallback as {@link recommendations}. */
  async recommendationsForHistory(
    variables: RecommendationsForHistoryQueryVariables,
    options?: CallOptions,
  ): Promise<RecommendationsResult> {
    const call = (signal?: AbortSignal) =>
      this.run(
        RecommendationsForHistoryDocument,
        'RecommendationsForHistory',
        variables,
        true,
        withSignal(options, signal),
      ).then((d) => d.recommendationsForHistory);
    const history = Array.isArray(variables.itemIds) ? variables.itemIds : [variables.itemIds];
    return this.fallback
      ? this.fallback.guard(call, variables.filter ?? undefined, variables.limit ?? undefined, history, options?.signal)
      : call();
  }

  /** Items closest to an item (COLLABORATIVE by default, or VISUAL). */
  async similarItems(
    variables: SimilarItemsQueryVariables,
    options?: CallOptions,
  ): Promise<SimilarItemsQuery['similarItems']> {
    return (await this.run(SimilarItemsDocument, 'SimilarItems', variables, true, options)).similarItems;
  }

  /** Users whose histories are closest to this user's. */
  async similarUsers(
    variables: SimilarUsersQueryVariables,
    options?: CallOptions,
  ): Promise<SimilarUsersQuery['similarUsers']> {
    return (await this.run(SimilarUsersDocument, 'SimilarUsers', variables, true, options)).similarUsers;
  }

  /** Most interacted-with visible items, optionally since a time, in a category and weighted by kind. */
  async popularItems(
    variables: PopularItemsQueryVariables = {},
    options?: CallOptions,
  ): Promise<PopularItemsQuery['popularItems']> {
    return (await this.run(PopularItemsDocument, 'PopularItems', variables, true, options)).popularItems;
  }

  /** The model's reconstruction of the user's history and its error. */
  async reconstruction(
    variables: ReconstructionQueryVariables,
    options?: CallOptions,
  ): Promise<ReconstructionQuery['reconstruction']> {
    return (await this.run(ReconstructionDocument, 'Reconstruction', variables, true, options)).reconstruction;
  }

  /** The user's anomaly score under the active model (null without a model or history); NOT_FOUND for an unknown user. */
  async anomalyScore(
    userId: string,
    options?: CallOptions,
  ): Promise<NonNullable<AnomalyScoreQuery['user']>['anomalyScore']> {
    return (await this.run(AnomalyScoreDocument, 'AnomalyScore', { userId }, true, options)).user.anomalyScore;
  }

  /** The model's reconstruction of an anonymous history (a value per item of `valuesFor`, else per history item it knows) and its error. */
  async reconstructionForHistory(
    variables: ReconstructionForHistoryQueryVariables,
    options?: CallOptions,
  ): Promise<ReconstructionForHistoryQuery['reconstructionForHistory']> {
    return (await this.run(ReconstructionForHistoryDocument, 'ReconstructionForHistory', variables, true, options))
      .reconstructionForHistory;
  }

  /** The anomaly score of an anonymous history under the active model (null when the model knows none of its items). */
  async anomalyScoreForHistory(
    itemIds: string[],
    options?: CallOptions,
  ): Promise<AnomalyScoreForHistoryQuery['anomalyScoreForHistory']> {
    return (await this.run(AnomalyScoreForHistoryDocument, 'AnomalyScoreForHistory', { itemIds }, true, options))
      .anomalyScoreForHistory;
  }

  // ── operate ─────────────────────────────────────────────────────────────────────────────────

  /** Queues a training run (ADMIN); poll {@link trainingRun} or await {@link waitForTrainingRun}. */
  async trainModel(input: TrainModelInput = {}, options?: CallOptions): Promise<TrainModelMutation['trainModel']> {
    return (await this.run(TrainModelDocument, 'TrainModel', { input }, false, options)).trainModel;
  }

  /** One training run with its progress; NOT_FOUND if unknown. */
  async trainingRun(id: number, options?: CallOptions): Promise<TrainingRunQuery['trainingRun']> {
    return (await this.run(TrainingRunDocument, 'TrainingRun', { id }, true, options)).trainingRun;
  }

  /** Polls a training run until it SUCCEEDED, FAILED or was CANCELLED (default: every second, for at most an hour). */
  async waitForTrainingRun(
    id: number,
    options: CallOptions & { pollMs?: number; waitMs?: number } = {},
  ): Promise<TrainingRunQuery['trainingRun']> {
    const deadline = Date.now() + (options.waitMs ?? 3_600_000);
    for (;;) {
      const run = await this.trainingRun(id, options);
      if (run.status === 'SUCCEEDED' || run.status === 'FAILED' || run.status === 'CANCELLED') return run;
      if (Date.now() > deadline)
        throw new RecoderTimeoutError(
          `training run ${id} still ${run.status} after ${options.waitMs ?? 3_600_000} ms`,
          options.waitMs ?? 3_600_000,
          { operation: 'TrainingRun' },
        );
      await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
  }

  /** Trained model versions, newest first. */
  async modelVersions(
    variables: ModelVersionsQueryVariables = {},
    options?: CallOptions,
  ): Promise<ModelVersionsQuery['modelVersions']> {
    return (await this.run(ModelVersionsDocument, 'ModelVersions', variables, true, options)).modelVersions;
  }

  /** Makes a version the active one (ADMIN); rollback = activate an older version. */
  async activateModelVersion(
    id: number,
    options?: CallOptions,
  ): Promise<ActivateModelVersionMutation['activateModelVersion']> {
    return (await this.run(ActivateModelVersionDocument, 'ActivateModelVersion', { id }, true, options))
      .activateModelVersion;
  }

  // ── events ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Records an event without waiting: it is batched, sent with its eventId (a resend never stores it
   * twice) and retried on transient failures. Throws synchronously only on a malformed event or
   * after close(). Call close() before the process exits.
   */
  track(event: TrackEvent): void {
    this.buffer.track(event);
  }

  /** Sends every tracked event now; resolves when each is stored, rejected or given up. */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /** What the event buffer did: tracked, stored, duplicates, dropped, rejected, failed, buffered, batches, retries. */
  stats(): TrackStats {
    return this.buffer.stats();
  }

  /** Flushes the event buffer (within its retry budget) and stops the fallback's refresh; resolves with the final stats. */
  async close(): Promise<TrackStats> {
    this.fallback?.close();
    return this.buffer.close();
  }

  /** Refreshes the fallback's cached popular items now (e.g. at startup, so the first slow answer already has a fallback). */
  async warmFallback(): Promise<void> {
    if (!this.fallback) throw new RecoderError('warmFallback(): the client has no `fallback` option', 'NO_FALLBACK');
    await this.fallback.refresh();
  }

  private run<TResult, TVariables>(
    document: DocumentTypeDecoration<TResult, TVariables>,
    operationName: string,
    variables: TVariables,
    idempotent: boolean,
    options?: CallOptions,
  ): Promise<TResult> {
    return this.execute<TResult>(
      String(document),
      operationName,
      variables as Record<string, unknown>,
      idempotent,
      options ?? {},
    );
  }

  private execute<TResult>(
    query: string,
    operationName: string | undefined,
    variables: Record<string, unknown> | undefined,
    idempotent: boolean,
    options: CallOptions,
  ): Promise<TResult> {
    const sendOptions = {
      operationName,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      signal: options.signal,
      headers: options.headers,
    };
    const attempt = () => this.transport.send<TResult>(query, variables, sendOptions);
    const policy = options.retries === undefined ? this.policy : { ...this.policy, retries: options.retries };
    return policy.retries === 0 ? attempt() : withRetries(attempt, policy, idempotent, options.signal);
  }
}

export { isTransient };

function withSignal(options: CallOptions | undefined, signal: AbortSignal | undefined): CallOptions | undefined {
  if (!signal) return options;
  return { ...options, signal: options?.signal ? AbortSignal.any([options.signal, signal]) : signal };
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new RangeError(`RecoderClient: ${name} must be a number ≥ 0 (got ${String(value)})`);
  return value;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
