/**
 * Micro-batching with admission control: concurrent requests that arrive close together are run
 * as one batch (one database read, one forward pass, one scoring step), and the queue in front of
 * the work is bounded.
 *
 * - A request waits at most `windowMs` for others to join it (0: only those that arrive in the
 *   same event-loop turn), less when the batch fills (`maxBatch`). When no batch is running a
 *   request starts at the end of the current turn: a lone request does not wait for the window.
 * - At most `maxInFlight` batches run at once (their database reads overlap the model work of
 *   another); requests that arrive meanwhile queue and form the next batch.
 * - At most `maxQueue` requests wait; one more is refused at once with {@link QueueFullError}
 *   (the server answers SERVICE_UNAVAILABLE with Retry-After) instead of queueing without bound.
 * - A request still queued `deadlineMs` after it arrived is refused with
 *   {@link DeadlineExceededError}; a batch that has started runs to the end.
 */
export interface MicroBatcherOptions {
  /** Most requests per batch. */
  maxBatch: number;
  /** Longest wait (ms) for a batch to fill once a slot is free; 0: the current event-loop turn. */
  windowMs: number;
  /** Batches running at once. */
  maxInFlight: number;
  /** Requests waiting at most; more are refused with QueueFullError. */
  maxQueue: number;
  /** A request not started within this many ms is refused with DeadlineExceededError. */
  deadlineMs: number;
  /** The clock (tests pass a fake one); default performance.now. */
  now?: () => number;
}

/** The queue in front of the model work is full: retry after `retryAfterSeconds`. */
export class QueueFullError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'QueueFullError';
  }
}

/** A request waited longer than its deadline before its batch could start. */
export class DeadlineExceededError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'DeadlineExceededError';
  }
}

/** What a batch reports about one of its requests: a result or that request's own error. */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/** How long a request waited in the queue (ms) and how many requests its batch had. */
export interface BatchInfo {
  queuedMs: number;
  batchSize: number;
}

interface Pending<T, R> {
  request: T;
  arrived: number;
  resolve: (value: { value: R; info: BatchInfo }) => void;
  reject: (error: unknown) => void;
}

export class MicroBatcher<T, R> {
  private readonly queue: Pending<T, R>[] = [];
  private inFlight = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private immediate: ReturnType<typeof setImmediate> | null = null;
  private readonly now: () => number;
  /** Batches run and requests served, for metrics and tests. */
  readonly stats = { batches: 0, requests: 0, refused: 0, expired: 0, largestBatch: 0 };

  constructor(
    private readonly options: MicroBatcherOptions,
    private readonly run: (batch: T[]) => Promise<BatchOutcome<R>[]>,
  ) {
    if (!(
      options.maxBatch >= 1 &&
      options.maxInFlight >= 1 &&
      options.maxQueue >= 1 &&
      options.windowMs >= 0 &&
      options.deadlineMs > 0
    )) {
      throw new Error(`MicroBatcher: invalid options ${JSON.stringify(options)}`);
    }
    this.now = options.now ?? (() => performance.now());
  }

  /** Requests waiting for a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** Batches running now. */
  get running(): number {
    return this.inFlight;
  }

  /** Queues a request; resolves with its result once its batch ran (or rejects, see the class doc). */
  submit(request: T): Promise<{ value: R; info: BatchInfo }> {
    if (this.queue.length >= this.options.maxQueue) {
      this.stats.refused++;
      return Promise.reject(
        new QueueFullError(
          `the server is at capacity (${this.options.maxQueue} requests waiting for the model); retry shortly`,
          this.retryAfter(),
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ request, arrived: this.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Seconds a refused client should wait: about the time the queue takes to drain, at least 1. */
  private retryAfter(): number {
    return Math.max(1, Math.ceil(this.options.deadlineMs / 1000));
  }

  private schedule(): void {
    if (this.inFlight >= this.options.maxInFlight) return; // the next batch starts when one finishes
    if (this.queue.length >= this.options.maxBatch) {
      this.flush();
      return;
    }
    // Nothing running, no window, or the oldest request has waited the window already: start at
    // the end of this turn, with whatever else arrived in it.
    const wait = this.inFlight === 0 ? 0 : this.options.windowMs - (this.now() - this.queue[0].arrived);
    if (wait <= 0) {
      this.immediate ??= setImmediate(() => {
        this.immediate = null;
        this.flush();
      });
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  private flush(): void {
    this.clearTimers();
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const now = this.now();
      const batch: Pending<T, R>[] = [];
      while (batch.length < this.options.maxBatch && this.queue.length > 0) {
        const p = this.queue.shift()!;
        if (now - p.arrived > this.options.deadlineMs) {
          this.stats.expired++;
          p.reject(
            new DeadlineExceededError(
              `the request waited ${Math.round(now - p.arrived)} ms for the model, more than its deadline of ${this.options.deadlineMs} ms; retry shortly`,
              this.retryAfter(),
            ),
          );
          continue;
        }
        batch.push(p);
      }
      if (batch.length === 0) break;
      void this.execute(batch, now);
    }
  }

  private async execute(batch: Pending<T, R>[], started: number): Promise<void> {
    this.inFlight++;
    this.stats.batches++;
    this.stats.requests += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    try {
      const outcomes = await this.run(batch.map((p) => p.request));
      batch.forEach((p, k) => {
        const o = outcomes[k];
        if (!o)
          p.reject(
            new Error(`MicroBatcher: the batch returned ${outcomes.length} outcomes for ${batch.length} requests`),
          );
        else if (o.ok) p.resolve({ value: o.value, info: { queuedMs: started - p.arrived, batchSize: batch.length } });
        else p.reject(o.error);
      });
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight--;
      if (this.queue.length > 0) this.schedule();
    }
  }
}
