import { DurableObject } from "cloudflare:workers";
import { controlDb } from "../src/db/client";
import { type Admit, admission, policyStates, type Usage, WINDOW_MS, writeDenial } from "../src/gate/admission";
import { Bulkhead } from "../src/gate/bulkhead";
import { CircuitBreaker, type CircuitSnapshot } from "../src/gate/circuit-breaker";
import { reportCircuit } from "../src/gate/circuit-report";
import { ControlCopy, readControl, type StoredCopy } from "../src/gate/control-copy";
import { gateState } from "../src/gate/dataset";
import { type FenceState, WriteFence } from "../src/gate/fence";
import type {
  AdmitRequest,
  AdmitResult,
  Dependency,
  FenceResult,
  GateRow,
  GateState,
  LimitsView,
  Outcome,
  PermitResult,
  Release,
  RequestSample,
  ResetScope,
  WriteResult,
} from "../src/gate/protocol";
import { quotaPeriod } from "../src/gate/quota-period";
import { SlidingWindowLog } from "../src/gate/sliding-window";
import { GateTelemetry } from "../src/gate/telemetry";
import { limitsView } from "../src/gate/view";
import { effectiveScopes } from "../src/keys/scopes";
import { type GateKey, LAST_USED_RESOLUTION_MS, touchKey } from "../src/keys/service";
import { MINUTE_MS, minuteOf } from "../src/metrics/cell";
import { observabilityOn } from "../src/metrics/switch";
import { quotaTripped } from "../src/quotas/service";
import type { TenantRoute } from "../src/routing/route";
import { settings } from "../src/settings";

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
/** The metrics of a minute are sent this long after it ends, so the releases still on their way join them. */
const METRICS_SEND_DELAY_MS = 2_000;

/**
 * One per tenant. Every request of the tenant asks this object, in one call, whether it may
 * proceed: key valid, tenant active, rate limits (tenant and key), monthly quota, concurrency.
 * A Durable Object runs one event at a time and `admit` never awaits between deciding (the pure
 * `admission` of src/gate/admission.ts) and recording, so the limits are exact under any
 * concurrency, from any isolate or colo.
 *
 * It also keeps a copy of the tenant's route and keys (ControlCopy, src/gate/control-copy.ts:
 * refreshed from the control database at most GATE_MAX_STALENESS_MS apart, at once when told of
 * a change, and served as it stands when the control database fails); and the circuit breakers
 * of the tenant's dependencies. The object itself holds the RPC methods and the SQLite tables.
 */
export class TenantGate extends DurableObject<Env> {
  private readonly copy: ControlCopy;
  private readonly tenantWindow = new SlidingWindowLog(WINDOW_MS);
  private readonly keyWindows = new Map<string, SlidingWindowLog>();
  private quota = { period: "", used: 0 };
  private readonly bulkhead: Bulkhead;
  private readonly circuits = new Map<Dependency, CircuitBreaker>();
  private pendingHits: { policy: string; at: number }[] = [];
  private quotaDirty = false;
  /** The period whose quota trip this object has reported. */
  private quotaTripReported: string | null = null;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly touchedAt = new Map<string, number>();
  private readonly writeDeadlineMs: number;
  private fence!: WriteFence;
  private readonly telemetry: GateTelemetry;
  /** False only in a benchmark's baseline (src/metrics/switch.ts). */
  private readonly observed: boolean;
  /** When the alarm that sends the telemetry is set for; null when none is. */
  private metricsAlarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const { gateMaxStalenessMs, gateLeaseMs, shardTimeoutMs, slowQueryMs } = settings(env);
    this.copy = new ControlCopy({
      maxStalenessMs: gateMaxStalenessMs,
      read: (tenantId, keyIds) => readControl(controlDb(this.env), tenantId, keyIds),
      save: (copy) => this.saveCopy(copy),
    });
    this.writeDeadlineMs = shardTimeoutMs + DEADLINE_MARGIN_MS;
    this.bulkhead = new Bulkhead(gateLeaseMs);
    this.telemetry = new GateTelemetry(ctx.storage, slowQueryMs);
    this.observed = observabilityOn(env);
    ctx.blockConcurrencyWhile(async () => this.load());
  }

  private get sql() {
    return this.ctx.storage.sql;
  }

  /**
   * Restores the copy, the windows, the quota and the circuits after a restart, or after the
   * storage was replaced; `writesSince` is when this object last admitted a data write that may
   * still be running (its lease is in memory only), 0 when none may be.
   */
  private load(writesSince = 0) {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS copy (name TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS admissions (policy TEXT NOT NULL, last_at INTEGER NOT NULL, times TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS admissions_last_at ON admissions (last_at);
      CREATE TABLE IF NOT EXISTS quota (period TEXT PRIMARY KEY, used INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS circuits (dependency TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS fence (move_id TEXT PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS admin_writes (lease_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `);
    let tenantId: string | null = null;
    let route: TenantRoute | null = null;
    const keys = new Map<string, GateKey>();
    for (const row of this.sql.exec<{ name: string; body: string }>("SELECT name, body FROM copy")) {
      if (row.name === "tenant_id") tenantId = JSON.parse(row.body);
      else if (row.name === "route") route = JSON.parse(row.body);
      else if (row.name.startsWith("key:")) keys.set(row.name.slice(4), JSON.parse(row.body));
    }
    this.copy.restore(tenantId, route, keys);
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
    this.fence = new WriteFence(this.writeDeadlineMs, Math.max(last?.at ?? 0, writesSince) + this.writeDeadlineMs);
    this.sql.exec("DELETE FROM admin_writes WHERE at <= ?", now - this.writeDeadlineMs);
    const [fence] = this.sql.exec<{ body: string }>("SELECT body FROM fence").toArray();
    this.fence.restore(fence ? (JSON.parse(fence.body) as FenceState) : null);
    this.telemetry.load();
    if (this.telemetry.hasUnsent) this.armMetricsAlarm(now);
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

  /** Replaces the stored copy of the control data in one transaction. */
  private saveCopy({ tenantId, route, keys }: StoredCopy) {
    const put = (name: string, body: unknown) =>
      this.sql.exec(
        "INSERT INTO copy (name, body) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body",
        name,
        JSON.stringify(body),
      );
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM copy");
      put("tenant_id", tenantId);
      put("route", route);
      for (const key of keys) put(`key:${key.id}`, key);
    });
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
    await this.copy.ensureFresh(request.tenantId, request.keyId);
    // Nothing awaits from here on: the decision is recorded against the state it was made on.
    const now = Date.now();
    const decision = admission({
      now,
      request,
      route: this.copy.route,
      key: this.copy.key(request.keyId),
      stale: this.copy.stale,
      fenceHeld: this.fence.held(now),
      inFlight: this.bulkhead.inFlight(now),
      ...this.counters(now, request.keyId),
    });
    if (!decision.admitted) {
      if (decision.problem === "quota-exhausted") this.quotaExhausted(now);
      // The operator view lists a limited key's window once a response has reported it.
      if (decision.policies.some((policy) => policy.name === "key")) this.keyWindow(request.keyId);
      return decision;
    }
    const { route, key } = decision;
    const leaseId = this.recordAdmission(decision, now);

    if (now - (this.touchedAt.get(key.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      this.touchedAt.set(key.id, now);
      this.ctx.waitUntil(touchKey(controlDb(this.env), key.id, now, request.tenantId).catch(() => undefined));
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
      stale: this.copy.stale,
    };
  }

  /**
   * The monthly quota refused a request: the first time in its period, the control database records
   * the trip and emits `quota.exceeded` (once, whatever this object remembers after a restart).
   */
  private quotaExhausted(now: number) {
    const route = this.copy.route;
    const limit = route?.limits.monthlyRequests;
    const period = quotaPeriod(now).id;
    if (!route || limit === null || limit === undefined || this.quotaTripReported === period) return;
    this.quotaTripReported = period;
    this.ctx.waitUntil(
      quotaTripped(controlDb(this.env), route.tenantId, "monthly_requests", limit, now).catch(() => {
        this.quotaTripReported = null;
      }),
    );
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
    if (this.observed) {
      this.telemetry.admitted(now);
      this.armMetricsAlarm(now);
    }
    return leaseId;
  }

  /** Writes the admissions since the last flush in one transaction. */
  private flush() {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.pendingHits.length === 0 && !this.quotaDirty && !this.telemetry.hasUnsaved) return;
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
      this.telemetry.save();
    });
    this.quotaDirty = false;
  }

  /** Returns finished requests' concurrency slots and records how their dependencies answered. */
  release(releases: Release[]) {
    for (const { leaseId, outcomes, sample } of releases) {
      if (leaseId !== null) {
        this.bulkhead.release(leaseId);
        this.fence.released(leaseId);
      }
      this.record(outcomes, sample?.route ?? null);
      if (sample) this.recordSample(sample);
    }
  }

  /** A finished request in the tenant's metrics: its route's cell and its gate decision's. */
  private recordSample(sample: RequestSample) {
    // A tenant this gate does not know (never provisioned, or purged) has no metrics to keep, nor
    // has a deleted one: only refusals of its keys, which would outlive its purge.
    if (this.copy.route === null || this.copy.route.status === "DELETED") return;
    const now = Date.now();
    this.telemetry.sample(now, this.copy.route.tier, sample);
    this.metricsChanged(now);
  }

  /** Metrics changed: stored with the next flush, sent by the next alarm. */
  private metricsChanged(now: number) {
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
    this.armMetricsAlarm(now);
  }

  private armMetricsAlarm(now: number) {
    if (this.metricsAlarmAt !== null) return;
    this.metricsAlarmAt = minuteOf(now) + MINUTE_MS + METRICS_SEND_DELAY_MS;
    void this.ctx.storage.setAlarm(this.metricsAlarmAt);
  }

  /** Sends the metrics: a minute's, shortly after it ends. A throw retries the alarm, with backoff. */
  override async alarm() {
    this.metricsAlarmAt = null;
    await this.flushMetrics();
  }

  /**
   * Sends every metric cell changed since last sent to the control database; what changes while
   * they are sent goes with the next alarm.
   */
  async flushMetrics() {
    const route = this.copy.route;
    if (!this.telemetry.hasUnsent || route === null) return;
    this.flush();
    try {
      await this.telemetry.send(this.env, route);
    } catch (error) {
      this.armMetricsAlarm(Date.now());
      throw error;
    }
    if (this.telemetry.hasUnsent) this.armMetricsAlarm(Date.now());
  }

  /**
   * Admits a platform admin's data write (tenant keys' writes are admitted by `admit`): held back
   * by a move's fence like any other, and refused when the caller's route names a shard the
   * tenant has left. Release it with `release`. Its lease is stored, as an admin write is rare and
   * a restarted gate must still know it may be running.
   */
  async admitWrite(tenantId: string, shardId: string): Promise<WriteResult> {
    await this.fence.waitForLift(Date.now(), FENCE_WAIT_MS);
    await this.copy.ensureFresh(tenantId);
    const now = Date.now();
    const refused = writeDenial(this.fence.held(now), this.copy.route, shardId);
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
      await this.copy.invalidate(tenantId);
      if (this.copy.stale || this.copy.route?.shard?.id !== onShard) return false;
    }
    this.fence.lift();
    this.saveFence(null);
    return true;
  }

  record(outcomes: Outcome[], route: string | null = null) {
    const now = Date.now();
    if (this.observed && this.telemetry.calls(now, this.copy.route?.tier ?? "unknown", outcomes, route)) {
      this.metricsChanged(now);
    }
    for (const outcome of outcomes) {
      const breaker = this.circuit(outcome.dependency);
      const before = breaker.current(now);
      breaker.record(now, outcome.failed, outcome.probe);
      const after = breaker.current(now);
      // A closed circuit's window is cheap to lose; persist only what a restart must not forget.
      if (before !== "closed" || after !== "closed") this.saveCircuit(outcome.dependency, breaker);
      if ((before === "closed") !== (after === "closed")) this.circuitChanged(outcome.dependency, after, now);
    }
  }

  /** Tells the control database a circuit opened or closed again, for the platform's health. */
  private circuitChanged(dependency: Dependency, state: string, now: number) {
    const tenantId = this.copy.route?.tenantId;
    if (tenantId === undefined) return;
    this.ctx.waitUntil(
      reportCircuit(controlDb(this.env), tenantId, dependency, state === "closed" ? "closed" : "open", now).catch(
        () => undefined,
      ),
    );
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
    await this.copy.ensureFresh(tenantId);
    return this.copy.route;
  }

  /** Called after the tenant, its plan, a key or a user changed: reload now. */
  async invalidate(tenantId: string) {
    await this.copy.invalidate(tenantId);
  }

  async view(tenantId: string): Promise<LimitsView> {
    await this.copy.ensureFresh(tenantId);
    const now = Date.now();
    return limitsView({
      tenantId,
      now,
      route: this.copy.route,
      stale: this.copy.stale,
      tenantWindow: this.tenantWindow,
      keyWindows: this.keyWindows,
      keyLimit: (keyId) => this.copy.key(keyId)?.rateLimitPerMinute,
      quotaUsed: this.quotaUsed(now),
      inFlight: this.bulkhead.inFlight(now),
      circuits: this.circuits,
    });
  }

  /** Every row of the gate's storage tables (src/gate/dataset.ts), pending admissions written first. */
  exportState(): GateState {
    this.flush();
    return Object.fromEntries(
      gateState.storage.map((table) => [
        table,
        this.sql.exec<GateRow>(`SELECT * FROM ${table} ORDER BY rowid`).toArray(),
      ]),
    );
  }

  /**
   * Replaces the storage tables' rows with `state` (as exportState gives it) in one transaction,
   * then reloads from them as a restart would. Requests in flight keep their concurrency slots.
   */
  importState(state: GateState) {
    const tables = Object.keys(state);
    if (tables.length !== gateState.storage.length || tables.some((table) => !gateState.storage.includes(table))) {
      throw new Error(`a gate's state has the tables ${gateState.storage.join(", ")}, not ${tables.join(", ")}`);
    }
    this.ctx.storage.transactionSync(() => {
      for (const table of gateState.storage) {
        const columns = this.sql.exec(`SELECT * FROM ${table} LIMIT 0`).columnNames;
        this.sql.exec(`DELETE FROM ${table}`);
        for (const row of state[table] ?? []) {
          const names = Object.keys(row);
          const unknown = names.filter((name) => !columns.includes(name));
          if (unknown.length > 0) throw new Error(`gate table ${table} has no column ${unknown.join(", ")}`);
          this.sql.exec(
            `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
            ...names.map((name) => row[name] ?? null),
          );
        }
      }
    });
    const now = Date.now();
    const writesSince = this.fence.inFlight(now) > 0 ? now : 0;
    this.forget();
    this.load(writesSince);
  }

  /** Deletes everything the gate stores and forgets it, concurrency slots too: it is as a new gate. */
  async purgeState() {
    // No flush may write admissions back while the storage is being emptied.
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.ctx.storage.deleteAll();
    // Whatever was admitted meanwhile went with the storage: memory follows it at once.
    this.forget();
    this.bulkhead.clear();
    this.load();
  }

  /** Drops what memory holds of the stored state, before the state is reloaded from new storage. */
  private forget() {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.pendingHits = [];
    this.quotaDirty = false;
    this.tenantWindow.clear();
    this.keyWindows.clear();
    this.circuits.clear();
    this.touchedAt.clear();
    this.telemetry.clear();
    // Writes waiting for the old fence to lift wake up and meet the reloaded one.
    this.fence.lift();
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
      const now = Date.now();
      for (const [dependency, breaker] of this.circuits) {
        if (breaker.current(now) !== "closed") this.circuitChanged(dependency, "closed", now);
      }
      this.circuits.clear();
      this.sql.exec("DELETE FROM circuits");
    }
  }
}
