export type CircuitState = "closed" | "open" | "half_open";

export type CircuitConfig = {
  /** Outcomes remembered while closed (count-based sliding window). */
  windowSize: number;
  /** Failure rate (0–1) at or above which the circuit opens. */
  failureRateThreshold: number;
  /** Calls that must be in the window before the rate is trusted. */
  minimumCalls: number;
  /** How long the circuit stays open before letting probes through. */
  openMs: number;
  /** Probes let through while half-open; their failure rate decides open or closed. */
  halfOpenProbes: number;
  /** A probe that reports nothing within this time counts as failed (a lost release). */
  probeTimeoutMs: number;
};

export const DEFAULT_CIRCUIT: CircuitConfig = {
  windowSize: 100,
  failureRateThreshold: 0.5,
  minimumCalls: 20,
  openMs: 30_000,
  halfOpenProbes: 5,
  probeTimeoutMs: 60_000,
};

export type Permit = { permitted: true; probe: string | null } | { permitted: false; retryAfterMs: number };

export type CircuitSnapshot = {
  state: CircuitState;
  outcomes: boolean[];
  openedAt: number | null;
  probes: { id: string; issuedAt: number }[];
  probeFailures: number;
  probeSuccesses: number;
};

export type CircuitView = {
  state: CircuitState;
  calls: number;
  failures: number;
  failure_rate: number;
  opened_at: string | null;
  retry_after_seconds: number | null;
};

/**
 * A count-based circuit breaker (the resilience4j model). Pure: the caller passes the time, and
 * persists `snapshot()`; the Durable Object owning it serialises every call.
 */
export class CircuitBreaker {
  private state: CircuitState = "closed";
  /** true = failed; oldest first, at most windowSize long. */
  private outcomes: boolean[] = [];
  private openedAt: number | null = null;
  private probes = new Map<string, number>();
  private probeFailures = 0;
  private probeSuccesses = 0;

  constructor(private readonly config: CircuitConfig = DEFAULT_CIRCUIT) {}

  static restore(snapshot: CircuitSnapshot, config: CircuitConfig = DEFAULT_CIRCUIT) {
    const breaker = new CircuitBreaker(config);
    breaker.state = snapshot.state;
    breaker.outcomes = snapshot.outcomes.slice(-config.windowSize);
    breaker.openedAt = snapshot.openedAt;
    breaker.probes = new Map(snapshot.probes.map((p) => [p.id, p.issuedAt]));
    breaker.probeFailures = snapshot.probeFailures;
    breaker.probeSuccesses = snapshot.probeSuccesses;
    return breaker;
  }

  snapshot(): CircuitSnapshot {
    return {
      state: this.state,
      outcomes: [...this.outcomes],
      openedAt: this.openedAt,
      probes: [...this.probes].map(([id, issuedAt]) => ({ id, issuedAt })),
      probeFailures: this.probeFailures,
      probeSuccesses: this.probeSuccesses,
    };
  }

  /** The state at `now`, after time-driven transitions (open → half-open, probe timeouts). */
  current(now: number): CircuitState {
    if (this.state === "open" && this.openedAt !== null && now >= this.openedAt + this.config.openMs) {
      this.toHalfOpen();
    }
    if (this.state === "half_open") {
      for (const [id, issuedAt] of this.probes) {
        if (now - issuedAt >= this.config.probeTimeoutMs) this.recordProbe(now, id, true);
      }
    }
    return this.state;
  }

  /** Whether a call may go to the dependency now. Half-open hands out a bounded number of probes. */
  permit(now: number): Permit {
    const state = this.current(now);
    if (state === "closed") return { permitted: true, probe: null };
    if (state === "half_open") {
      const used = this.probes.size + this.probeFailures + this.probeSuccesses;
      if (used < this.config.halfOpenProbes) {
        const id = crypto.randomUUID();
        this.probes.set(id, now);
        return { permitted: true, probe: id };
      }
    }
    return { permitted: false, retryAfterMs: this.retryAfterMs(now) };
  }

  /** Milliseconds until a call could be permitted again (open: the rest of the open period). */
  retryAfterMs(now: number): number {
    if (this.state === "open" && this.openedAt !== null) return Math.max(0, this.openedAt + this.config.openMs - now);
    if (this.state === "half_open") {
      const used = this.probes.size + this.probeFailures + this.probeSuccesses;
      // Every probe out: they decide within their timeout at the latest; ask again shortly.
      return used < this.config.halfOpenProbes ? 0 : 1_000;
    }
    return 0;
  }

  /**
   * Records the outcome of a permitted call; `probe` is the id `permit` returned, if any. `failed`
   * null: the dependency was not called after all, so nothing is counted and the probe goes back.
   */
  record(now: number, failed: boolean | null, probe: string | null = null) {
    if (failed === null) {
      if (probe !== null) this.probes.delete(probe);
      return;
    }
    const state = this.current(now);
    if (probe !== null) {
      if (state === "half_open") this.recordProbe(now, probe, failed);
      return;
    }
    // Calls admitted before the circuit opened may finish afterwards; only closed counts them.
    if (state !== "closed") return;
    this.outcomes.push(failed);
    if (this.outcomes.length > this.config.windowSize) this.outcomes.shift();
    const failures = this.outcomes.filter(Boolean).length;
    if (
      this.outcomes.length >= this.config.minimumCalls &&
      failures / this.outcomes.length >= this.config.failureRateThreshold
    ) {
      this.toOpen(now);
    }
  }

  private recordProbe(now: number, id: string, failed: boolean) {
    if (!this.probes.delete(id)) return;
    if (failed) this.probeFailures++;
    else this.probeSuccesses++;
    const outstanding = this.config.halfOpenProbes - this.probeFailures - this.probeSuccesses;
    // Decide as soon as the outcome is certain, rather than waiting for every probe.
    const failureLimit = Math.ceil(this.config.halfOpenProbes * this.config.failureRateThreshold);
    if (this.probeFailures >= failureLimit) this.toOpen(now);
    else if (this.probeFailures + outstanding < failureLimit) this.toClosed();
  }

  private toOpen(now: number) {
    this.state = "open";
    this.openedAt = now;
    this.probes.clear();
    this.probeFailures = 0;
    this.probeSuccesses = 0;
  }

  private toHalfOpen() {
    this.state = "half_open";
    this.probes.clear();
    this.probeFailures = 0;
    this.probeSuccesses = 0;
  }

  private toClosed() {
    this.state = "closed";
    this.outcomes = [];
    this.openedAt = null;
    this.probes.clear();
    this.probeFailures = 0;
    this.probeSuccesses = 0;
  }

  reset() {
    this.toClosed();
  }

  view(now: number): CircuitView {
    const state = this.current(now);
    const failures = this.outcomes.filter(Boolean).length;
    const retryAfter = this.retryAfterMs(now);
    return {
      state,
      calls: this.outcomes.length,
      failures,
      failure_rate: this.outcomes.length === 0 ? 0 : failures / this.outcomes.length,
      opened_at: this.openedAt === null ? null : new Date(this.openedAt).toISOString(),
      retry_after_seconds: state === "closed" ? null : Math.ceil(retryAfter / 1000),
    };
  }
}
