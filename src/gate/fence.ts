/**
 * A tenant move's hold on the tenant's data writes (src/moves), kept by the tenant's gate.
 *
 * While a fence stands no data write is admitted; the gate tracks every data write it admitted,
 * so the move can wait until those have finished ("drained") before its last copy. A fence lapses
 * at `until`, so a move that dies cannot hold writes back for long. Before switching the route
 * the move seals the fence: it then lasts long enough for any retry of the switch, and a seal
 * fails if the fence has lapsed, when writes may have gone to the old shard unseen.
 */
export type FenceState = { moveId: string; since: number; until: number; sealed: boolean };

export class WriteFence {
  private state: FenceState | null = null;
  /** Data writes admitted and not yet released: lease id → admitted at. */
  private readonly writes = new Map<string, number>();
  private lifted: { promise: Promise<void>; resolve: () => void } | null = null;

  /**
   * @param writeDeadlineMs after this long an admitted write counts as finished even if its release
   *   never came: the request answered 503 by its own deadline (SHARD_TIMEOUT_MS), so it was never
   *   acknowledged.
   * @param unknownUntil writes admitted before this time may exist unrecorded (the gate restarted
   *   and its in-memory leases are gone), so nothing counts as drained before it.
   */
  constructor(
    private readonly writeDeadlineMs: number,
    private readonly unknownUntil: number,
  ) {}

  restore(state: FenceState | null) {
    this.state = state;
  }

  current(now: number): FenceState | null {
    if (this.state && this.state.until <= now) this.lift();
    return this.state;
  }

  held(now: number): boolean {
    return this.current(now) !== null;
  }

  /** Raises (or renews) the fence for `moveId`; false while another move's fence stands. */
  raise(moveId: string, now: number, ttlMs: number): FenceState | null {
    const standing = this.current(now);
    if (standing && standing.moveId !== moveId) return null;
    const sealed = standing?.sealed ?? false;
    const until = Math.max(standing?.until ?? 0, now + ttlMs);
    this.state = { moveId, since: standing?.since ?? now, until, sealed };
    return this.state;
  }

  /** Extends the move's standing fence by `ttlMs` and marks it sealed; false if it is not standing. */
  seal(moveId: string, now: number, ttlMs: number): boolean {
    const standing = this.current(now);
    if (standing?.moveId !== moveId) return false;
    standing.until = Math.max(standing.until, now + ttlMs);
    standing.sealed = true;
    return true;
  }

  lift() {
    this.state = null;
    this.lifted?.resolve();
    this.lifted = null;
  }

  /** Waits until the fence is lifted or lapses, or `maxMs` passes. */
  async waitForLift(now: number, maxMs: number): Promise<void> {
    const standing = this.current(now);
    if (!standing) return;
    if (!this.lifted) {
      let resolve = () => {};
      const promise = new Promise<void>((done) => {
        resolve = done;
      });
      this.lifted = { promise, resolve };
    }
    const ms = Math.min(maxMs, standing.until - now);
    await Promise.race([this.lifted.promise, scheduler.wait(Math.max(0, ms))]);
  }

  admitted(leaseId: string, now: number) {
    this.writes.set(leaseId, now);
  }

  released(leaseId: string) {
    this.writes.delete(leaseId);
  }

  /** Admitted data writes that may still be running. */
  inFlight(now: number): number {
    let count = 0;
    for (const [id, at] of this.writes) {
      if (now - at >= this.writeDeadlineMs) this.writes.delete(id);
      else count++;
    }
    return count + (now < this.unknownUntil ? 1 : 0);
  }
}
