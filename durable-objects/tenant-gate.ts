import { DurableObject } from "cloudflare:workers";
import { controlDb } from "../src/db/client";
import { type Admit, admission, policyStates, type Usage, WINDOW_MS, writeDenial } from "../src/gate/admission";
import { Bulkhead } from "../src/gate/bulkhead";
import { CircuitBreaker, type CircuitSnapshot } from "../src/gate/circuit-breaker";
import { type FenceState, WriteFence } from "../src/gate/fence";
import type {
  AdmitRequest,
  AdmitResult,
  Dependency,
  FenceResult,
  LimitsView,
  Outcome,
  PermitResult,
  Release,
  ResetScope,
  WriteResult,
} from "../src/gate/protocol";
import { quotaPeriod } from "../src/gate/quota-period";
import { Reloads } from "../src/gate/reloads";
import { SlidingWindowLog } from "../src/gate/sliding-window";
import { effectiveScopes } from "../src/keys/scopes";
import { type GateKey, gateKeysQuery, LAST_USED_RESOLUTION_MS, touchKey } from "../src/keys/service";
import { routeQuery, type TenantRoute, toRoute } from "../src/routing/route";
import { settings } from "../src/settings";

/** Keys whose state the gate keeps at most; a reload keeps the most recently added ones. */
const MAX_KEYS = 256;
/** After a failed refresh, serve the stored copy this long before asking the control DB again. */
const REFRESH_BACKOFF_MS = 1_000;
/**
 * Admissions are written to storage in batches this far apart, not one by one: a write holds the
 * object's responses until it is durable (the output gate), which would put a storage commit on
 * every request's path. The cost: a crash (not an eviction, which waits for the timer) can forget
 * the last FLUSH_MS of admissions in its window and month. A batch is one row per policy, not
 * one per admission, so a busy tenant's flush stays a couple of inserts.
 */
const FLUSH_MS = 100;
/** How long a data write waits for a move's fence to lift before it is refused with 503. */
const FENCE_WAIT_MS = 2_000;
/** Margin past a request's own deadline after which its write can no longer be running. */
const DEADLINE_MARGIN_MS = 1_000;

/**
 * One per tenant. Every request of the tenant asks this object, in one call, whether it may
 * proceed: key valid, tenant active, rate limits (tenant and key), monthly quota, concurrency.
 * A Durable Object runs one event at a time and `admit` never awaits between deciding (the pure
 * `admission` of src/gate/admission.ts) and recording, so the limits are exact under any
 * concurrency, from any isolate or colo.
 *
 * It also keeps a copy of the tenant's route and keys (refreshed from the control database at
 * most GATE_MAX_STALENESS_MS apart, at once when told of a change) and serves from that copy when
 * the control database fails; and the circuit breakers of the tenant's dependencies.
 */
export class TenantGate extends DurableObject<Env> {
  private tenantId: string | null = null;
  private route: TenantRoute | null = null;
  private keys = new Map<string, GateKey>();
  private confirmedAt = 0;
  private lastFailureAt = 0;
  private stale = false;
  /** The tenant the next reload is for: the one this object is named after. */
  private reloadTenant = "";
  private readonly reloads = new Reloads(
    () => this.keys.keys(),
    (keyIds) => this.reload(keyIds),
    MAX_KEYS,
  );
  /** What the stored copy holds, so a reload that changed nothing writes nothing. */
  private storedCopy: string | null = null;

  private readonly tenantWindow = new SlidingWindowLog(WINDOW_MS);
  private readonly keyWindows = new Map<string, SlidingWindowLog>();
  private quota = { period: "", used: 0 };
  private readonly bulkhead: Bulkhead;
  private readonly circuits = new Map<Dependency, CircuitBreaker>();
  private pendingHits: { policy: string; at: number }[] = [];
  private quotaDirty = false;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly touchedAt = new Map<string, number>();
  private readonly maxStalenessMs: number;
  private readonly writeDeadlineMs: number;
  private fence!: WriteFence;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const { gateMaxStalenessMs, gateLeaseMs, shardTimeoutMs } = settings(env);
    this.maxStalenessMs = gateMaxStalenessMs;
    this.writeDeadlineMs = shardTimeoutMs + DEADLINE_MARGIN_MS;
    this.bulkhead = new Bulkhead(gateLeaseMs);
    ctx.blockConcurrencyWhile(async () => this.load());
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  /** Restores the copy, the windows, the quota and the circuits after a restart. */
  private load() {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS copy (name TEXT PRIMARY KEY, body TEXT NOT NULL);
      DROP TABLE IF EXISTS hits;
      CREATE TABLE IF NOT EXISTS admissions (policy TEXT NOT NULL, last_at INTEGER NOT NULL, times TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS admissions_last_at ON admissions (last_at);
      CREATE TABLE IF NOT EXISTS quota (period TEXT PRIMARY KEY, used INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS circuits (dependency TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS fence (move_id TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS admin_writes (lease_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `);
    for (const row of this.sql.exec<{ name: string; body: string }>("SELECT name, body FROM copy")) {
      if (row.name === "tenant_id") this.tenantId = JSON.parse(row.body);
      else if (row.name === "route") this.route = JSON.parse(row.body);
      else if (row.name.startsWith("key:")) this.keys.set(row.name.slice(4), JSON.parse(row.body));
    }
    const now = Date.now();
    const horizon = now - WINDOW_MS;
    const hits = new Map<string, number[]>();
    // Batches in the order they were written, each in ascending order: the logs load sorted.
    for (const row of this.sql.exec<{ policy: string; times: string }>(
      "SELECT policy, times FROM admissions WHERE last_at > ? ORDER BY rowid",
      horizon,
    )) {
      const times = hits.get(row.policy) ?? [];
      hits.set(row.policy, times);
      for (const at of JSON.parse(row.times) as number[]) if (at > horizon) times.push(at);
    }
    for (const [policy, times] of hits) {
      if (policy === "tenant") this.tenantWindow.load(times);
      else this.keyWindow(policy.slice(4)).load(times);
    }
    const period = quotaPeriod(now).id;
    const quota = this.sql.exec<{ used: number }>("SELECT used FROM quota WHERE period = ?", period).toArray()[0];
    this.quota = { period, used: quota?.used ?? 0 };
    for (const row of this.sql.exec<{ dependency: Dependency; body: string }>(
      "SELECT dependency, body FROM circuits",
    )) {
      this.circuits.set(row.dependency, CircuitBreaker.restore(JSON.parse(row.body) as CircuitSnapshot));
    }
    // The leases of writes a previous run of this object admitted were in memory only. The last
    // stored admission (tenant keys) and the stored admin leases bound when such a write could
    // still be running, so a move's drain waits that out instead of trusting an empty map.
    const [last] = this.sql
      .exec<{ at: number | null }>(
        "SELECT max(at) AS at FROM (SELECT max(last_at) AS at FROM admissions UNION ALL SELECT max(at) FROM admin_writes)",
      )
      .toArray();
    this.fence = new WriteFence(this.writeDeadlineMs, (last?.at ?? 0) + this.writeDeadlineMs);
    this.sql.exec("DELETE FROM admin_writes WHERE at <= ?", now - this.writeDeadlineMs);
    const [fence] = this.sql.exec<{ body: string }>("SELECT body FROM fence").toArray();
    this.fence.restore(fence ? (JSON.parse(fence.body) as FenceState) : null);
  }

  private saveFence(state: FenceState | null) {
    this.sql.exec("DELETE FROM fence");
    if (state) this.sql.exec("INSERT INTO fence (move_id, body) VALUES (?, ?)", state.moveId, JSON.stringify(state));
  }

  private keyWindow(keyId: string) {
    let window = this.keyWindows.get(keyId);
    if (!window) {
      window = new SlidingWindowLog(WINDOW_MS);
      this.keyWindows.set(keyId, window);
    }
    return window;
  }

  private circuit(dependency: Dependency) {
    let breaker = this.circuits.get(dependency);
    if (!breaker) {
      breaker = new CircuitBreaker();
      this.circuits.set(dependency, breaker);
    }
    return breaker;
  }

  private saveCircuit(dependency: Dependency, breaker: CircuitBreaker) {
    this.sql.exec(
      "INSERT INTO circuits (dependency, body) VALUES (?, ?) ON CONFLICT (dependency) DO UPDATE SET body = excluded.body",
      dependency,
      JSON.stringify(breaker.snapshot()),
    );
  }

  private saveCopy(name: string, body: unknown) {
    this.sql.exec(
      "INSERT INTO copy (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body",
      name,
      JSON.stringify(body),
    );
  }

  /**
   * Reloads the route and these keys from the control database. Never rejects: a failure marks
   * the copy stale, and the stored copy goes on serving.
   */
  private async reload(keyIds: string[]): Promise<void> {
    const tenantId = this.reloadTenant;
    const db = controlDb(this.env);
    try {
      // Not db.batch: batch results are mapped by column name, and tenants and shards share some.
      const [routeRows, keyRows] = await Promise.all([routeQuery(db, tenantId), gateKeysQuery(db, tenantId, keyIds)]);
      this.route = toRoute(routeRows[0]);
      this.keys = new Map(keyRows.map((key) => [key.id, key]));
      this.confirmedAt = Date.now();
      this.stale = false;
      const copy = JSON.stringify([tenantId, this.route, keyRows]);
      if (copy !== this.storedCopy) {
        this.tenantId = tenantId;
        this.ctx.storage.transactionSync(() => {
          this.sql.exec("DELETE FROM copy");
          this.saveCopy("tenant_id", tenantId);
          this.saveCopy("route", this.route);
          for (const key of keyRows) this.saveCopy(`key:${key.id}`, key);
        });
        this.storedCopy = copy;
      }
    } catch (error) {
      this.lastFailureAt = Date.now();
      this.stale = true;
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "gate refresh failed; serving the stored copy",
          tenant_id: tenantId,
          error: String(error),
        }),
      );
    }
  }

  /**
   * Reloads the copy, sharing a reload already under way when it answers the question: it asks
   * for `keyId` (a key the copy lacks) and, unless `fresh`, it may have started earlier.
   */
  private refresh(tenantId: string, keyId?: string, fresh = false): Promise<void> {
    this.reloadTenant = tenantId;
    return this.reloads.request(keyId, fresh);
  }

  /** Makes sure the copy is at most GATE_MAX_STALENESS_MS old, unless the control DB is failing. */
  private async ensureFresh(tenantId: string, keyId?: string) {
    const now = Date.now();
    const known = this.route !== null && (keyId === undefined || this.keys.has(keyId));
    const tooOld = now - this.confirmedAt > this.maxStalenessMs || this.tenantId !== tenantId;
    if (known && !tooOld) return;
    if (known && this.stale && now - this.lastFailureAt < REFRESH_BACKOFF_MS) return;
    await this.refresh(tenantId, known ? undefined : keyId);
    // A key known when the reload was joined may have been left out of it (past MAX_KEYS): ask for it.
    if (known && keyId !== undefined && !this.keys.has(keyId) && !this.stale) await this.refresh(tenantId, keyId);
  }

  private quotaUsed(now: number) {
    const period = quotaPeriod(now).id;
    if (this.quota.period !== period) {
      this.flush();
      const row = this.sql.exec<{ used: number }>("SELECT used FROM quota WHERE period = ?", period).toArray()[0];
      this.quota = { period, used: row?.used ?? 0 };
    }
    return this.quota.used;
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    this.release(request.releases);
    if (request.write) await this.fence.waitForLift(Date.now(), FENCE_WAIT_MS);
    await this.ensureFresh(request.tenantId, request.keyId);
    // Nothing awaits from here on: the decision is recorded against the state it was made on.
    const now = Date.now();
    const decision = admission({
      now,
      request,
      route: this.route,
      key: this.keys.get(request.keyId),
      stale: this.stale,
      fenceHeld: this.fence.held(now),
      inFlight: this.bulkhead.inFlight(now),
      ...this.counters(now, request.keyId),
    });
    if (!decision.admitted) {
      // The operator view lists a limited key's window once a response has reported it.
      if (decision.policies.some((policy) => policy.name === "key")) this.keyWindow(request.keyId);
      return decision;
    }
    const { route, key } = decision;
    const leaseId = this.recordAdmission(decision, now);

    if (now - (this.touchedAt.get(key.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      this.touchedAt.set(key.id, now);
      this.ctx.waitUntil(touchKey(controlDb(this.env), key.id, now).catch(() => undefined));
    }

    const circuits: Record<string, { state: "open" | "half_open"; retryAfterMs: number }> = {};
    for (const [dependency, breaker] of this.circuits) {
      const state = breaker.current(now);
      if (state !== "closed") circuits[dependency] = { state, retryAfterMs: breaker.retryAfterMs(now) };
    }
    return {
      admitted: true,
      principal: { keyId: key.id, userId: key.userId, scopes: effectiveScopes(key.scopes, key.userRole) },
      ...(route.version !== request.knownVersion ? { route } : {}),
      leaseId,
      policies: policyStates(now, route, key.rateLimitPerMinute, this.counters(now, key.id)),
      circuits,
      stale: this.stale,
    };
  }

  /** The windows and quota an admission of this key is checked against. */
  private counters(now: number, keyId: string): Usage {
    return { tenantWindow: this.tenantWindow, keyWindow: this.keyWindows.get(keyId), quotaUsed: this.quotaUsed(now) };
  }

  /** Takes a bulkhead slot and counts the request in its windows and the quota; returns its lease. */
  private recordAdmission(decision: Admit, now: number): string {
    const leaseId = crypto.randomUUID();
    this.bulkhead.acquire(leaseId, now);
    if (decision.write) this.fence.admitted(leaseId, now);
    this.tenantWindow.record(now);
    this.pendingHits.push({ policy: "tenant", at: now });
    if (decision.keyWindow !== null) {
      this.keyWindow(decision.keyWindow).record(now);
      this.pendingHits.push({ policy: `key:${decision.keyWindow}`, at: now });
    }
    this.quota.used++;
    this.quotaDirty = true;
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
    return leaseId;
  }

  /** Writes the admissions since the last flush in one transaction. */
  private flush() {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pendingHits.length === 0 && !this.quotaDirty) return;
    const batches = new Map<string, number[]>();
    for (const { policy, at } of this.pendingHits) {
      const times = batches.get(policy);
      if (times) times.push(at);
      else batches.set(policy, [at]);
    }
    this.pendingHits = [];
    this.ctx.storage.transactionSync(() => {
      for (const [policy, times] of batches) {
        this.sql.exec(
          "INSERT INTO admissions (policy, last_at, times) VALUES (?, ?, ?)",
          policy,
          times[times.length - 1],
          JSON.stringify(times),
        );
      }
      if (this.quotaDirty) {
        this.sql.exec(
          "INSERT INTO quota (period, used) VALUES (?, ?) ON CONFLICT (period) DO UPDATE SET used = excluded.used",
          this.quota.period,
          this.quota.used,
        );
      }
      this.sql.exec("DELETE FROM admissions WHERE last_at <= ?", Date.now() - WINDOW_MS);
    });
    this.quotaDirty = false;
  }

  /** Returns finished requests' concurrency slots and records how their dependencies answered. */
  release(releases: Release[]) {
    for (const { leaseId, outcomes } of releases) {
      this.bulkhead.release(leaseId);
      this.fence.released(leaseId);
      this.record(outcomes);
    }
  }

  /**
   * Admits a platform admin's data write (tenant keys' writes are admitted by `admit`): held back
   * by a move's fence like any other, and refused when the caller's route names a shard the
   * tenant has left. Release it with `release`. Its lease is stored, as an admin write is rare and
   * a restarted gate must still know it may be running.
   */
  async admitWrite(tenantId: string, shardId: string): Promise<WriteResult> {
    await this.fence.waitForLift(Date.now(), FENCE_WAIT_MS);
    await this.ensureFresh(tenantId);
    const now = Date.now();
    const refused = writeDenial(this.fence.held(now), this.route, shardId);
    if (refused) return refused;
    const leaseId = crypto.randomUUID();
    this.fence.admitted(leaseId, now);
    this.sql.exec("INSERT INTO admin_writes (lease_id, at) VALUES (?, ?)", leaseId, now);
    return { admitted: true, leaseId };
  }

  /** Ends an admin write's lease (see admitWrite) and records how the shard answered. */
  releaseWrite(leaseId: string, outcomes: Outcome[]) {
    this.fence.released(leaseId);
    this.sql.exec("DELETE FROM admin_writes WHERE lease_id = ?", leaseId);
    this.record(outcomes);
  }

  /**
   * A move raises (or renews) its fence, then waits up to `drainMs` for the data writes admitted
   * before it to finish. `drained: false` leaves the fence up; the move lifts it or tries again.
   */
  async raiseFence(moveId: string, ttlMs: number, drainMs: number): Promise<FenceResult> {
    const raised = this.fence.raise(moveId, Date.now(), ttlMs);
    if (!raised) return { raised: false, drained: false, inFlight: 0 };
    this.saveFence(raised);
    const deadline = Date.now() + drainMs;
    let inFlight = this.fence.inFlight(Date.now());
    while (inFlight > 0 && Date.now() < deadline) {
      await scheduler.wait(5);
      inFlight = this.fence.inFlight(Date.now());
    }
    const standing = this.fence.current(Date.now())?.moveId === moveId;
    return { raised: standing, drained: standing && inFlight === 0, inFlight };
  }

  /**
   * Seals the move's fence for `ttlMs` more (long enough to retry the switch); false if it lapsed,
   * in which case the move must not switch.
   */
  sealFence(moveId: string, ttlMs: number): boolean {
    const sealed = this.fence.seal(moveId, Date.now(), ttlMs);
    if (sealed) this.saveFence(this.fence.current(Date.now()));
    return sealed;
  }

  /**
   * Lifts the move's fence. With `onShard`, only once the gate's route (reloaded now) names that
   * shard, so the first write let through already goes to the new shard; false otherwise.
   */
  async liftFence(tenantId: string, moveId: string, onShard?: string): Promise<boolean> {
    if (this.fence.current(Date.now())?.moveId !== moveId) return true;
    if (onShard !== undefined) {
      await this.invalidate(tenantId);
      if (this.stale || this.route?.shard?.id !== onShard) return false;
    }
    this.fence.lift();
    this.saveFence(null);
    return true;
  }

  record(outcomes: Outcome[]) {
    const now = Date.now();
    for (const outcome of outcomes) {
      const breaker = this.circuit(outcome.dependency);
      const before = breaker.current(now);
      breaker.record(now, outcome.failed, outcome.probe);
      // A closed circuit's window is cheap to lose; persist only what a restart must not forget.
      if (before !== "closed" || breaker.current(now) !== "closed") this.saveCircuit(outcome.dependency, breaker);
    }
  }

  /** Asks to call a dependency; half-open circuits hand out a bounded number of probes. */
  permit(dependency: Dependency): PermitResult {
    const now = Date.now();
    const breaker = this.circuit(dependency);
    const permit = breaker.permit(now);
    if (permit.permitted && permit.probe !== null) this.saveCircuit(dependency, breaker);
    return permit;
  }

  /** The stored route, refreshed if possible: the fallback when the control database fails. */
  async routeCopy(tenantId: string): Promise<TenantRoute | null> {
    await this.ensureFresh(tenantId);
    return this.route;
  }

  /** Called after the tenant, its plan, a key or a user changed: reload now. */
  async invalidate(tenantId: string) {
    this.confirmedAt = 0;
    this.lastFailureAt = 0;
    // A reload already under way may have read before the change committed: wait for a new one.
    await this.refresh(tenantId, undefined, true);
  }

  async view(tenantId: string): Promise<LimitsView> {
    await this.ensureFresh(tenantId);
    const now = Date.now();
    const limits = this.route?.limits;
    const period = quotaPeriod(now);
    const rateLimits = limits
      ? [
          { policy: "tenant", ...this.usage(this.tenantWindow, limits.requestsPerMinute, now) },
          ...[...this.keyWindows]
            .filter(([keyId]) => this.keys.get(keyId)?.rateLimitPerMinute != null)
            .map(([keyId, window]) => ({
              policy: `key:${keyId}`,
              ...this.usage(window, this.keys.get(keyId)?.rateLimitPerMinute ?? 0, now),
            })),
        ]
      : [];
    return {
      tenant_id: tenantId,
      tier: this.route?.tier ?? null,
      stale: this.stale,
      rate_limits: rateLimits,
      monthly_requests: {
        period: period.id,
        limit: limits?.monthlyRequests ?? null,
        used: this.quotaUsed(now),
        resets_at: new Date(period.end).toISOString(),
      },
      concurrency: { limit: limits?.maxConcurrency ?? 0, in_flight: this.bulkhead.inFlight(now) },
      circuits: Object.fromEntries([...this.circuits].map(([dependency, breaker]) => [dependency, breaker.view(now)])),
    };
  }

  private usage(window: SlidingWindowLog, limit: number, now: number) {
    const used = window.count(now);
    return {
      limit,
      window_seconds: WINDOW_MS / 1000,
      used,
      remaining: Math.max(0, limit - used),
      reset_seconds: Math.ceil(window.nextRestoreMs(now) / 1000),
    };
  }

  /** Operator reset of some or all state. */
  reset(scopes: ResetScope[]) {
    this.flush();
    if (scopes.includes("rate")) {
      this.tenantWindow.clear();
      this.keyWindows.clear();
      this.sql.exec("DELETE FROM admissions");
    }
    if (scopes.includes("quota")) {
      this.quota = { period: quotaPeriod(Date.now()).id, used: 0 };
      this.sql.exec("DELETE FROM quota");
    }
    if (scopes.includes("concurrency")) this.bulkhead.clear();
    if (scopes.includes("circuits")) {
      this.circuits.clear();
      this.sql.exec("DELETE FROM circuits");
    }
  }
}
