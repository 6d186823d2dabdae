/** One impression as written to the `impressions` table. */
export interface ImpressionRow {
  id: string;
  subject: string | null;
  anonymous: boolean;
  versionId: number | null;
  slot: string;
  experimentId: number | null;
  arm: number | null;
  itemIds: number[];
  fallback: boolean;
  createdAt: Date;
}

export interface ImpressionBufferOptions {
  /** Impressions waiting at most; more are dropped (counted as buffer_full). */
  capacity: number;
  /** Rows per write; a full batch is written at once, a partial one after `flushMs`. */
  batchSize: number;
  flushMs: number;
  /** Share of impressions kept, 0..1 (`random() < sampleRate`). */
  sampleRate: number;
  /** Writes one batch (a multi-row INSERT); a rejection drops the batch (counted as write_failed). */
  write: (rows: ImpressionRow[]) => Promise<void>;
  onWriteError?: (error: unknown, rows: number) => void;
  random?: () => number;
}

/**
 * The impression log's write path, off the request path: `add` only pushes onto a bounded array
 * (or drops and counts when it is full — impressions may be lost under overload, interactions
 * never depend on them); one writer at a time drains it in batches, `batchSize` rows per INSERT,
 * at the latest `flushMs` after the first row waited. `drain` writes everything (shutdown).
 */
export class ImpressionBuffer {
  private rows: ImpressionRow[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;
  readonly counts = { recorded: 0, written: 0, sampledOut: 0, droppedFull: 0, droppedWriteFailed: 0 };

  constructor(private readonly options: ImpressionBufferOptions) {}

  get buffered(): number {
    return this.rows.length;
  }

  /** Queues one impression (sampled); never waits and never throws. */
  add(row: ImpressionRow): void {
    const o = this.options;
    if (o.sampleRate < 1 && !((o.random ?? Math.random)() < o.sampleRate)) {
      this.counts.sampledOut++;
      return;
    }
    if (this.closed || this.rows.length >= o.capacity) {
      this.counts.droppedFull++;
      return;
    }
    this.rows.push(row);
    this.counts.recorded++;
    if (this.writing) return; // the running writer takes it
    if (this.rows.length >= o.batchSize) this.startWriting();
    else this.timer ??= setTimeout(() => this.startWriting(), o.flushMs);
  }

  private startWriting(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.writing || this.rows.length === 0) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = null;
      // Rows that arrived during the last write wait for the next timer (or a full batch).
      if (this.rows.length >= this.options.batchSize) this.startWriting();
      else if (this.rows.length > 0 && !this.closed)
        this.timer ??= setTimeout(() => this.startWriting(), this.options.flushMs);
    });
  }

  /** Writes while a full batch waits (or everything, when draining). */
  private async writeAll(all = false): Promise<void> {
    do {
      const batch = this.rows.splice(0, this.options.batchSize);
      try {
        await this.options.write(batch);
        this.counts.written += batch.length;
      } catch (error) {
        this.counts.droppedWriteFailed += batch.length;
        this.options.onWriteError?.(error, batch.length);
      }
    } while (this.rows.length >= this.options.batchSize || (all && this.rows.length > 0));
  }

  /** Writes every buffered impression and stops taking new ones. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.writing) await this.writing;
    if (this.rows.length > 0) await this.writeAll(true);
  }

  /** Writes what is buffered now (tests, or before reading metrics in one process). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.writing) await this.writing;
    if (this.rows.length > 0) {
      this.writing = this.writeAll(true).finally(() => (this.writing = null));
      await this.writing;
    }
  }
}
