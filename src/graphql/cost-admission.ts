/**
 * Admission by cost: the queries a process executes at once may add up to at most `maxCost`
 * (their query cost, src/graphql/query-cost.ts); an operation that would exceed it is refused at
 * once (SERVICE_UNAVAILABLE, HTTP 503 with Retry-After) instead of queueing behind the others.
 *
 * The model work of an expensive answer runs in a model thread, but resolving, executing and
 * serializing it (thousands of items) runs on the event loop; twenty such answers at once left
 * `/health` waiting a quarter of a second behind them. With the budget, only a few run at once and
 * the event loop keeps time for everything else. Cheap operations (recommendations cost ~100)
 * pass while the budget has room; a single operation is always admitted when none runs. Large
 * ones (above `largeAbove`: half the cost limit) run one at a time whatever the budget, so that the
 * event loop is never executing two of the largest answers back to back.
 */
export class CostAdmission {
  private inFlight = 0;
  /** Admitted operations above `largeAbove` not yet released (0 or 1). */
  private large = 0;
  /** Operations refused since the process started. */
  refused = 0;

  constructor(
    readonly maxCost: number,
    readonly largeAbove = Number.POSITIVE_INFINITY,
  ) {
    if (!(maxCost > 0)) throw new Error(`CostAdmission: maxCost must be > 0, got ${maxCost}`);
  }

  /** Cost of the operations admitted and not yet released. */
  get cost(): number {
    return this.inFlight;
  }

  /** Admits an operation of this cost (true), or refuses it (false) when the budget has no room. */
  tryAcquire(cost: number): boolean {
    const large = cost > this.largeAbove;
    if ((this.inFlight > 0 && this.inFlight + cost > this.maxCost) || (large && this.large > 0)) {
      this.refused++;
      return false;
    }
    this.inFlight += cost;
    if (large) this.large++;
    return true;
  }

  /** Gives back an admitted operation's cost (once its answer is sent or its connection closed). */
  release(cost: number): void {
    this.inFlight = Math.max(0, this.inFlight - cost);
    if (cost > this.largeAbove) this.large = Math.max(0, this.large - 1);
  }
}
