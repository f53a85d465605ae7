/**
 * An exact sliding-window log: it remembers the time of every admitted request still inside the
 * window, so "at most `limit` in any `windowMs`" holds for every instant, not just per bucket.
 * GCRA or a token bucket would let a full burst plus the refill through inside one window; a
 * sliding-window counter only estimates. The memory cost is one number per admitted request,
 * bounded by the limit itself.
 */
export class SlidingWindowLog {
  private hits: number[] = [];
  private head = 0;

  constructor(public windowMs: number) {}

  /** Drops hits that have left the window ending at `now`. */
  private prune(now: number) {
    const horizon = now - this.windowMs;
    while (this.head < this.hits.length && (this.hits[this.head] as number) <= horizon) this.head++;
    // Compact once the dead prefix dominates, so the array stays bounded by the limit.
    if (this.head > 64 && this.head * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.head);
      this.head = 0;
    }
  }

  count(now: number): number {
    this.prune(now);
    return this.hits.length - this.head;
  }

  /**
   * Milliseconds until `count(now)` drops below `limit`, i.e. until one more request would be
   * admitted; 0 when one would be admitted now.
   */
  waitMs(now: number, limit: number): number {
    const used = this.count(now);
    if (used < limit) return 0;
    // A limit of 0 (a plan that allows nothing) never opens: say "a whole window".
    if (limit <= 0) return this.windowMs;
    // The hit whose expiry brings the count to limit - 1.
    const hit = this.hits[this.head + used - limit] as number;
    return hit + this.windowMs - now;
  }

  /** Milliseconds until the oldest hit in the window leaves it (0 for an empty window). */
  nextRestoreMs(now: number): number {
    return this.count(now) === 0 ? 0 : (this.hits[this.head] as number) + this.windowMs - now;
  }

  record(now: number) {
    this.hits.push(now);
  }

  /** Restores hits read back from storage; they must be in ascending order. */
  load(hits: number[]) {
    this.hits = [...hits];
    this.head = 0;
  }

  clear() {
    this.hits = [];
    this.head = 0;
  }
}
