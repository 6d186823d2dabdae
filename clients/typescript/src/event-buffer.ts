import { isTransient, RecoderBadUserInputError, RecoderError, RecoderUnknownItemsError } from './errors.js';
import type { InteractionKind, RecordInteractionInput } from './generated/graphql.js';
import { retryDelayMs, sleep } from './transport.js';

/** One event for {@link EventBuffer.track}: a user did something with an item. */
export interface TrackEvent {
  userId: string;
  itemId: string;
  /** Default IMPLICIT. */
  kind?: InteractionKind;
  /** Rating or weight (required for RATING). */
  value?: number;
  /** When it happened: a Date or an ISO string; default the moment track() is called. */
  occurredAt?: Date | string;
  /**
   * Idempotency key. Default: `<the buffer's session id>-<sequence>`, fixed when the event is
   * tracked, so every resend of it carries the same id and the server stores it once. Pass your own
   * (e.g. "order-981-line-1") to make re-tracking the same business event after your process
   * restarts safe too.
   */
  eventId?: string;
  /** The `recommendationId` of the answer that showed the item (online metrics, experiments); null/undefined: none. */
  recommendationId?: string | null;
}

/** What the buffer has done so far. */
export interface TrackStats {
  /** Events accepted by track(). */
  tracked: number;
  /** Events the server stored in answer to a request (acknowledged as new). */
  stored: number;
  /**
   * Events a resend found stored already (the first request ran but its answer was lost): not
   * stored twice. stored + duplicates = the events acknowledged.
   */
  duplicates: number;
  /** Oldest events dropped because the buffer was full (maxBufferedEvents). */
  dropped: number;
  /** Events the server refused as invalid (unknown item, bad value, no permission): not retried. */
  rejected: number;
  /** Events given up after the retry budget (maxRetryMs) ran out. */
  failed: number;
  /** Waiting or in flight now. */
  buffered: number;
  /** recordInteractions requests answered with success. */
  batches: number;
  /** Requests resent after a transient failure. */
  retries: number;
}

export interface EventBufferOptions {
  /** Events per request (default 500; the server caps batches at RECODER_MAX_BATCH_SIZE, 10,000 by default). */
  batchSize?: number;
  /** Longest an event waits before its batch is sent (default 1,000 ms). */
  flushIntervalMs?: number;
  /** Past this many waiting events, the oldest are dropped and counted (default 10,000). */
  maxBufferedEvents?: number;
  /**
   * How long requests may keep failing transiently before the batch being sent is given up
   * (default 60,000 ms). The budget counts from the first failure since the last success, so
   * during a long outage every later batch gets one try, then is given up too.
   */
  maxRetryMs?: number;
  /** First retry delay, doubled per retry with jitter, at most maxRetryDelayMs (defaults 200 ms, 5,000 ms). A Retry-After from the server takes precedence. */
  retryBaseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Called when events are given up (rejected by the server or out of retries), and on each transient failure. */
  onError?: (error: unknown, info: { events: readonly RecordInteractionInput[]; willRetry: boolean }) => void;
}

/** Sends one batch; resolves with how many events were duplicates. */
export type SendBatch = (events: RecordInteractionInput[]) => Promise<{ duplicates: number }>;

const DEFAULTS = {
  batchSize: 500,
  flushIntervalMs: 1000,
  maxBufferedEvents: 10_000,
  maxRetryMs: 60_000,
  retryBaseDelayMs: 200,
  maxRetryDelayMs: 5000,
};

/**
 * A bounded, batching event buffer for hot paths: track() validates and queues the event and returns
 * at once; a batch goes out when batchSize events wait or flushIntervalMs after its first event, one
 * request at a time, in order. A batch that gets no answer, HTTP 429/5xx, RATE_LIMITED,
 * SERVICE_UNAVAILABLE or INTERNAL_SERVER_ERROR is resent (same eventIds, so the server stores each
 * event once) with backoff, honouring Retry-After, for up to maxRetryMs. Events the server rejects
 * as invalid are removed from the batch (UNKNOWN_ITEMS names the items, BAD_USER_INPUT the index)
 * and the rest resent; those are counted as rejected, never retried.
 */
export class EventBuffer {
  private readonly opts: Required<Omit<EventBufferOptions, 'onError'>> & Pick<EventBufferOptions, 'onError'>;
  private readonly queue: RecordInteractionInput[] = [];
  private inFlight = 0;
  private sequence = 0;
  private readonly session: string;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  /** Send whatever waits, not only full batches (the timer fired, flush() or close()). */
  private drainRequested = false;
  private closed = false;
  /** Since when requests have been failing (undefined after a success): the retry budget counts from here. */
  private failingSince: number | undefined;
  private readonly abort = new AbortController();
  private readonly counts = {
    tracked: 0,
    stored: 0,
    duplicates: 0,
    dropped: 0,
    rejected: 0,
    failed: 0,
    batches: 0,
    retries: 0,
  };

  constructor(
    private readonly send: SendBatch,
    options: EventBufferOptions = {},
  ) {
    const o = { ...DEFAULTS, ...stripUndefined(options) };
    for (const k of ['batchSize', 'maxBufferedEvents'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`${k} must be a positive integer (got ${o[k]})`);
    }
    for (const k of ['flushIntervalMs', 'maxRetryMs', 'retryBaseDelayMs', 'maxRetryDelayMs'] as const) {
      if (!Number.isFinite(o[k]) || o[k] < 0) throw new RangeError(`${k} must be a number ≥ 0 (got ${o[k]})`);
    }
    this.opts = o;
    this.session = randomId();
  }

  /** Queues an event and returns at once. Throws (synchronously) on a malformed event or after close(). */
  track(event: TrackEvent): void {
    if (this.closed) throw new RecoderError('track() after close(): the event buffer is closed', 'CLOSED');
    const input = this.toInput(event);
    this.counts.tracked++;
    this.queue.push(input);
    const overflow = this.queue.length + this.inFlight - this.opts.maxBufferedEvents;
    if (overflow > 0) {
      const n = Math.min(overflow, this.queue.length);
      this.queue.splice(0, n);
      this.counts.dropped += n;
    }
    if (this.queue.length >= this.opts.batchSize) this.kick();
    else if (this.timer === undefined) this.scheduleFlush();
  }

  /** Sends what waits after the flush interval (one timer at a time). */
  private scheduleFlush(): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.drainRequested = true;
      this.kick();
    }, this.opts.flushIntervalMs);
    // The timer alone does not keep a process alive: close() (or flush()) sends what waits.
    (this.timer as { unref?: () => void }).unref?.();
  }

  /** Sends everything tracked so far; resolves when it is stored, rejected or given up. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0 && this.running === undefined) return;
      this.drainRequested = true;
      this.kick();
      await this.running;
    }
  }

  /** Stops accepting events, sends what waits (with its retry budget) and resolves with the final stats. */
  async close(): Promise<TrackStats> {
    this.closed = true;
    await this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return this.stats();
  }

  /** Gives up at once: what waits is counted as failed (use close() to send it). */
  destroy(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort(new RecoderError('the event buffer was destroyed', 'CLOSED'));
  }

  stats(): TrackStats {
    return { ...this.counts, buffered: this.queue.length + this.inFlight };
  }

  private toInput(event: TrackEvent): RecordInteractionInput {
    if (event === null || typeof event !== 'object')
      throw new TypeError('track(event): an object { userId, itemId, kind?, value?, occurredAt?, eventId? }');
    const { userId, itemId, kind, value, occurredAt, eventId, recommendationId } = event;
    if (typeof userId !== 'string' || userId === '')
      throw new TypeError('track(event): userId must be a non-empty string');
    if (typeof itemId !== 'string' || itemId === '')
      throw new TypeError('track(event): itemId must be a non-empty string');
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value)))
      throw new TypeError('track(event): value must be a finite number');
    if (eventId !== undefined && (typeof eventId !== 'string' || eventId === ''))
      throw new TypeError('track(event): eventId must be a non-empty string');
    if (recommendationId != null && typeof recommendationId !== 'string')
      throw new TypeError('track(event): recommendationId must be a string');
    const at = occurredAt === undefined ? new Date() : occurredAt instanceof Date ? occurredAt : new Date(occurredAt);
    if (Number.isNaN(at.getTime()))
      throw new TypeError(`track(event): occurredAt is not a date (${String(occurredAt)})`);
    return {
      userId,
      itemId,
      kind: kind ?? 'IMPLICIT',
      ...(value === undefined ? {} : { value }),
      occurredAt: at.toISOString(),
      eventId: eventId ?? `${this.session}-${++this.sequence}`,
      ...(recommendationId == null ? {} : { recommendationId }),
    };
  }

  private kick(): void {
    if (this.running !== undefined) return;
    this.running = this.run().finally(() => {
      this.running = undefined;
      // Events tracked while the last batch was out: a full batch goes now, the rest with the timer.
      if (this.queue.length >= this.opts.batchSize || (this.drainRequested && this.queue.length > 0)) this.kick();
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length >= this.opts.batchSize || (this.drainRequested && this.queue.length > 0)) {
      const batch = this.queue.splice(0, this.opts.batchSize);
      if (this.queue.length === 0) {
        this.drainRequested = false;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.inFlight = batch.length;
      try {
        await this.deliver(batch);
      } finally {
        this.inFlight = 0;
      }
    }
    if (this.queue.length > 0 && this.timer === undefined && !this.closed) this.scheduleFlush();
  }

  /** Sends one batch until it is stored, its invalid events are removed, or the retry budget is spent. */
  private async deliver(initial: RecordInteractionInput[]): Promise<void> {
    let batch = initial;
    for (let attempt = 0; batch.length > 0; attempt++) {
      try {
        const { duplicates } = await this.send(batch);
        this.failingSince = undefined;
        this.counts.batches++;
        this.counts.duplicates += duplicates;
        this.counts.stored += batch.length - duplicates;
        return;
      } catch (error) {
        if (this.abort.signal.aborted) {
          this.counts.failed += batch.length;
          return;
        }
        if (!isTransient(error)) {
          const bad = invalidEvents(error, batch);
          if (bad.size === 0 || bad.size === batch.length) {
            this.counts.rejected += batch.length;
            this.report(error, batch, false);
            return;
          }
          const rejected = batch.filter((_, i) => bad.has(i));
          this.counts.rejected += rejected.length;
          this.report(error, rejected, false);
          batch = batch.filter((_, i) => !bad.has(i));
          attempt = -1; // a new, smaller batch: its own backoff
          continue;
        }
        const wait = retryDelayMs(error, attempt, {
          baseDelayMs: this.opts.retryBaseDelayMs,
          maxDelayMs: this.opts.maxRetryDelayMs,
          maxRetryAfterMs: Infinity,
        })!;
        // One budget per outage, not per batch: once the server has been failing for maxRetryMs,
        // each waiting batch gets one more try, so close() ends in bounded time.
        this.failingSince ??= Date.now();
        if (Date.now() + wait - this.failingSince > this.opts.maxRetryMs) {
          this.counts.failed += batch.length;
          this.report(error, batch, false);
          return;
        }
        this.report(error, batch, true);
        try {
          await sleep(wait, this.abort.signal);
        } catch {
          this.counts.failed += batch.length;
          return;
        }
        this.counts.retries++;
      }
    }
  }

  private report(error: unknown, events: readonly RecordInteractionInput[], willRetry: boolean): void {
    try {
      this.opts.onError?.(error, { events, willRetry });
    } catch {
      // a throwing callback must not stop delivery
    }
  }
}

/** Indexes of the batch's events the server named as invalid (UNKNOWN_ITEMS ids, a BAD_USER_INPUT field "interactions[i]…"). */
function invalidEvents(error: unknown, batch: readonly RecordInteractionInput[]): Set<number> {
  const bad = new Set<number>();
  if (error instanceof RecoderUnknownItemsError) {
    const ids = new Set(error.ids);
    batch.forEach((e, i) => ids.has(e.itemId) && bad.add(i));
  } else if (error instanceof RecoderBadUserInputError && error.field) {
    const m = /^interactions\[(\d+)\]/.exec(error.field);
    if (m && Number(m[1]) < batch.length) bad.add(Number(m[1]));
  }
  return bad;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** 16 random hex characters (crypto.randomUUID exists in Node ≥ 19 and browsers). */
function randomId(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 16);
}
