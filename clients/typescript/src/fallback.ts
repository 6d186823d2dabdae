import { isTransient } from './errors.js';
import type {
  PopularItemsQuery,
  PopularItemsQueryVariables,
  RecommendationFilter,
  RecommendationsQuery,
} from './generated/graphql.js';

/**
 * Caller-side fallback for `recommendations` and `recommendationsForHistory` (off by default):
 * when the server has not answered within `timeoutMs`, or fails transiently (no answer, 429, 5xx,
 * SERVICE_UNAVAILABLE), the client answers from popular items it cached earlier, so a product page
 * renders on time while Recoder is slow or away. Such an answer has `source: POPULARITY`, `reason`
 * starting "client fallback", `modelVersionId: null`, `recommendationId: null` and `clientFallback` set; the request to the
 * server is aborted. Without a cached list yet (the first call, before {@link RecoderClient.warmFallback}),
 * the call waits for the server as usual. Invalid requests (BAD_USER_INPUT, …) still throw.
 */
export interface FallbackOptions {
  /** Answer from the cache when the server has not answered within this many milliseconds. */
  timeoutMs: number;
  /** Popular items to cache (default 100; the server's page size caps it). */
  popularLimit?: number;
  /** Refresh the cache in the background when it is older than this (default 60,000 ms). */
  refreshMs?: number;
  /** Arguments of the cached popularItems query (e.g. kindWeights, since); `limit` is popularLimit. */
  popularItems?: Omit<PopularItemsQueryVariables, 'limit'>;
}

/** Why a result came from the client's fallback: the server was too slow, or failed transiently. */
export type ClientFallback = 'TIMEOUT' | 'ERROR';

/** A recommendations answer, from the server or (with `clientFallback` set) from the fallback. */
export type RecommendationsResult = Omit<RecommendationsQuery['recommendations'], 'recommendationId'> & {
  /** The server's id of this answer (pass it to recordInteractions / track as `recommendationId`); null for a client fallback, which the server never saw. */
  recommendationId: string | null;
  clientFallback?: ClientFallback;
};

type Popular = PopularItemsQuery['popularItems'];
type FetchPopular = (variables: PopularItemsQueryVariables, signal: AbortSignal) => Promise<Popular>;

export class PopularFallback {
  private cache: { items: Popular; at: number } | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly refreshAbort = new AbortController();
  private readonly timeoutMs: number;
  private readonly limit: number;
  private readonly refreshMs: number;

  constructor(
    private readonly options: FallbackOptions,
    private readonly fetchPopular: FetchPopular,
  ) {
    if (!Number.isFinite(options.timeoutMs) || options.timeoutMs <= 0)
      throw new RangeError(`fallback.timeoutMs must be a number > 0 (got ${options.timeoutMs})`);
    this.timeoutMs = options.timeoutMs;
    this.limit = options.popularLimit ?? 100;
    this.refreshMs = options.refreshMs ?? 60_000;
  }

  /** Fetches the popular items now (one refresh at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= this.fetchPopular({ ...this.options.popularItems, limit: this.limit }, this.refreshAbort.signal)
      .then((items) => {
        this.cache = { items, at: Date.now() };
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  close(): void {
    this.refreshAbort.abort();
  }

  /** Whether a cached list exists (and when it was fetched). */
  cachedAt(): number | undefined {
    return this.cache?.at;
  }

  /**
   * Runs `call` (given a signal to abort it); answers from the cache if it has not settled within
   * timeoutMs or fails transiently and a cache exists.
   */
  async guard(
    call: (signal: AbortSignal) => Promise<RecommendationsQuery['recommendations']>,
    filter: RecommendationFilter | undefined,
    limit: number | undefined,
    history: readonly string[],
    callerSignal?: AbortSignal,
  ): Promise<RecommendationsResult> {
    if (this.cache === undefined || Date.now() - this.cache.at > this.refreshMs) {
      // Refresh in the background; a failed refresh keeps the old list and is retried next call.
      this.refresh().catch(() => undefined);
    }
    const abort = new AbortController();
    const request = call(abort.signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    try {
      const first = await Promise.race([request, timedOut]);
      if (first !== 'timeout') return first;
      if (this.cache === undefined || callerSignal?.aborted) return await request;
      abort.abort();
      request.catch(() => undefined);
      return this.answer('TIMEOUT', `the server did not answer within ${this.timeoutMs} ms`, filter, limit, history);
    } catch (error) {
      if (this.cache === undefined || !isTransient(error) || callerSignal?.aborted) throw error;
      return this.answer('ERROR', (error as Error).message, filter, limit, history);
    } finally {
      clearTimeout(timer);
    }
  }

  private answer(
    kind: ClientFallback,
    why: string,
    filter: RecommendationFilter | undefined,
    limit: number | undefined,
    history: readonly string[],
  ): RecommendationsResult {
    const exclude = new Set<string>([...history, ...toArray(filter?.excludeItemIds)]);
    const categories = toArray(filter?.categories);
    const items = this.cache!.items.filter(
      (p) =>
        !exclude.has(p.item.id) && (categories.length === 0 || p.item.categories.some((c) => categories.includes(c))),
    )
      .slice(0, limit ?? 20)
      .map((p) => ({ score: p.score, source: 'POPULARITY' as const, item: p.item }));
    return {
      recommendationId: null,
      source: 'POPULARITY',
      modelVersionId: null,
      reason: `client fallback (cached popular items): ${why}`,
      items,
      clientFallback: kind,
    };
  }
}

function toArray<T>(v: T | readonly T[] | null | undefined): readonly T[] {
  return v === null || v === undefined ? [] : Array.isArray(v) ? (v as readonly T[]) : [v as T];
}
