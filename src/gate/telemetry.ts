import { controlDb } from "../db/client";
import { chunksOf } from "../db/sql";
import { newId } from "../http/ids";
import { minuteOf } from "../metrics/cell";
import { MetricsRecorder } from "../metrics/recorder";
import { SLOW_CALLS_PER_MINUTE, type SlowCall, slowCallsOf, storeSlowQueries } from "../metrics/slow-queries";
import { storeMinutes } from "../metrics/store";
import type { TenantRoute } from "../routing/route";
import { eachShardJob } from "../shards/connection";
import { UsageMeter } from "../usage/meter";
import { counted, gauged, type UsageRecord } from "../usage/record";
import { GateOutbox } from "./outbox";
import type { Outcome, RequestSample } from "./protocol";

/** Records sent per queue batch (a batch takes at most 100). */
const USAGE_BATCH = 100;
/** Outbox records sent per alarm and kind; the rest go with the next. */
const SEND_LIMIT = 1_000;

const admittedDecisions = new Set(["admitted", "circuit_open"]);

/**
 * What a tenant's gate observes and sends on: request metrics (src/metrics/recorder.ts), slow shard
 * calls, and usage (src/usage/meter.ts). All of it lives in the gate's storage, written with the
 * gate's batched flush, and leaves in `send` (the gate's alarm, shortly after each minute): metric
 * cells and slow calls to the control database, usage records to the usage queue. Whatever was
 * sent is sent again if its confirmation is lost, under the same ids, so the receivers count it once.
 */
export class GateTelemetry {
  private readonly metrics: MetricsRecorder;
  private readonly usage: UsageMeter;
  private readonly outbox: GateOutbox;
  private slowMinute = { minute: 0, count: 0 };

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly slowQueryMs: number,
  ) {
    this.metrics = new MetricsRecorder(storage.sql);
    this.usage = new UsageMeter(storage.sql);
    this.outbox = new GateOutbox(storage.sql);
  }

  load() {
    this.metrics.load();
    this.usage.load();
    this.outbox.load();
  }

  /** Forgets what memory holds (the storage is being emptied). */
  clear() {
    this.metrics.clear();
    this.usage.clear();
  }

  get hasUnsaved() {
    return this.metrics.hasUnsaved || this.usage.hasUnsaved;
  }

  /** Writes what changed; the caller runs it in its flush's transaction. */
  save() {
    this.metrics.save();
    this.usage.save();
  }

  get hasUnsent() {
    return this.metrics.hasUnsent || this.usage.hasOpen || this.outbox.has("slow-query") || this.outbox.has("usage");
  }

  /** A request the gate admitted: an API call, counted with the quota. */
  admitted(now: number) {
    this.usage.count(now, "api_calls", 1);
  }

  /** A finished request of a tenant key: its route's and decision's cells, and its usage if it was admitted. */
  sample(now: number, tier: string, sample: RequestSample) {
    this.metrics.record(now, tier, "request", `${sample.method} ${sample.route}`, {
      status: sample.status,
      ms: sample.ms,
      bytes: sample.bytes,
    });
    this.metrics.record(now, tier, "gate", sample.decision, {});
    if (admittedDecisions.has(sample.decision)) {
      this.usage.count(now, "egress_bytes", sample.bytes);
      this.usage.count(now, "entries_written", sample.written ?? 0);
    }
  }

  /** How a request's shard calls went: the shard's cells, and the slow ones logged. Returns whether anything changed. */
  calls(now: number, tier: string, outcomes: Outcome[], route: string | null): boolean {
    let changed = false;
    for (const { shardId, calls } of outcomes) {
      if (shardId === undefined || !calls?.length) continue;
      for (const call of calls) {
        this.metrics.record(now, tier, "shard", shardId, { status: call.failed ? 500 : 200, ms: call.ms });
      }
      changed = true;
    }
    const slow = slowCallsOf(outcomes, this.slowQueryMs, route, now);
    const minute = minuteOf(now);
    if (this.slowMinute.minute !== minute) this.slowMinute = { minute, count: 0 };
    for (const call of slow.slice(0, Math.max(0, SLOW_CALLS_PER_MINUTE - this.slowMinute.count))) {
      this.outbox.add("slow-query", call);
      this.slowMinute.count++;
    }
    return changed;
  }

  /**
   * Sends what is unsent: the stored-bytes level is read first when due, then the usage counted
   * so far is sealed into records (in one transaction with its meter's state), then each kind is
   * sent. Every kind is tried; the first failure is thrown after, for the alarm to retry.
   */
  async send(env: Env, route: TenantRoute, now = Date.now()) {
    const tenantId = route.tenantId;
    const failures: unknown[] = [];
    if (route.shard && this.usage.wantsReading(now)) {
      const shard = route.shard;
      const usage = await eachShardJob(env, shard, "stored bytes not read", (store) => store.storageOf(tenantId));
      if (usage) this.usage.level(now, usage.storedBytes);
    }
    const source = `/tenants/${tenantId}/gate`;
    this.storage.transactionSync(() => {
      const sealed = this.usage.seal(Date.now());
      for (const { meter, hour, quantity } of sealed.counts) {
        this.outbox.add("usage", counted(newId("use"), tenantId, source, now, meter, hour, quantity));
      }
      for (const hour of sealed.gauge) {
        this.outbox.add("usage", gauged(newId("use"), tenantId, source, now, "stored_bytes", hour));
      }
      this.usage.save();
    });
    const unsent = this.metrics.unsentRows();
    const db = controlDb(env);
    const attempts: Promise<void>[] = [
      storeMinutes(db, tenantId, unsent.rows).then(() => this.metrics.sent(unsent, Date.now())),
      this.sendOutbox<SlowCall>("slow-query", (calls) => storeSlowQueries(db, tenantId, calls)),
      this.sendOutbox<UsageRecord>("usage", async (records) => {
        for (const batch of chunksOf(records, USAGE_BATCH)) {
          await env.USAGE_QUEUE.sendBatch(batch.map((body) => ({ body, contentType: "json" })));
        }
      }),
    ];
    for (const result of await Promise.allSettled(attempts)) {
      if (result.status === "rejected") failures.push(result.reason);
    }
    if (failures.length > 0) throw failures[0];
  }

  private async sendOutbox<T>(kind: "slow-query" | "usage", deliver: (bodies: T[]) => Promise<void>) {
    const pending = this.outbox.pending<T>(kind, SEND_LIMIT);
    if (pending.length === 0) return;
    await deliver(pending.map((row) => row.body));
    this.outbox.sent(pending.map((row) => row.seq));
  }
}
