import { and, asc, count, eq, gt, inArray, isNotNull, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { errorText } from "../db/errors";
import { circuitStates } from "../gate/circuit-table";
import { newId } from "../http/ids";
import { enqueue } from "../jobs/enqueue";
import { routeCacheStats } from "../routing/cache";
import { openStore } from "../shards/connection";
import { within } from "../shards/deadline";
import { shards } from "../shards/table";
import { tenants } from "../tenants/table";
import { readinessProbeMessage } from "./messages";

/** How long a check may take before it counts as failed. */
const CHECK_MS = 2_000;
/** A queue probe that worked is trusted this long in an isolate: a probe is one message. */
const QUEUE_PROBE_TTL_MS = 30_000;
/** Ids listed per kind of trouble; the counts are whole. */
const LISTED = 100;
const SAMPLE = 5;

export type Check = { status: "UP" | "DOWN"; ms: number; error?: string };

async function timed(work: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  try {
    await within(work(), CHECK_MS);
    return { status: "UP", ms: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    return { status: "DOWN", ms: Math.round((performance.now() - started) * 100) / 100, error: errorText(error) };
  }
}

let queueProbe: { at: number; check: Check } | null = null;

/**
 * Readiness: the control database answers a query, and the lifecycle queue takes a message (a
 * probe its consumer drops; sent at most every 30 s per isolate, and its last result reused meanwhile).
 */
export async function readiness(db: ControlDb, env: Env, now = Date.now()) {
  const controlDb = await timed(() => db.run(sql`SELECT 1`));
  if (!queueProbe || queueProbe.check.status === "DOWN" || now - queueProbe.at >= QUEUE_PROBE_TTL_MS) {
    queueProbe = { at: now, check: await timed(() => enqueue(env, readinessProbeMessage, { at: now })) };
  }
  const checks = { control_db: controlDb, queue: queueProbe.check };
  return { ready: controlDb.status === "UP" && queueProbe.check.status === "UP", checks };
}

/** Five tenants' shards, from a random point in id order, each asked for the tenant's storage row. */
async function sampleShards(db: ControlDb, env: Env) {
  const active = and(eq(tenants.status, "ACTIVE"), isNotNull(tenants.shardId));
  const pick = (after?: string) =>
    db
      .select({ id: tenants.id, shardId: tenants.shardId })
      .from(tenants)
      .where(after === undefined ? active : and(active, gt(tenants.id, after)))
      .orderBy(asc(tenants.id))
      .limit(SAMPLE);
  const from = await pick(newId("ten"));
  const more = from.length < SAMPLE ? await pick() : [];
  const chosen = [...new Map([...from, ...more].map((t) => [t.id, t])).values()].slice(0, SAMPLE);
  const registry = await db
    .select()
    .from(shards)
    .where(
      inArray(
        shards.id,
        chosen.map((t) => t.shardId as string),
      ),
    );
  const byId = new Map(registry.map((shard) => [shard.id, shard]));
  return Promise.all(
    chosen.map(async ({ id, shardId }) => {
      const shard = byId.get(shardId as string);
      const check = await timed(async () => {
        if (!shard) throw new Error("the shard is not registered");
        const store = await openStore(env, shard);
        try {
          await store.storageOf(id);
        } finally {
          await store.close();
        }
      });
      return { tenant_id: id, shard_id: shardId as string, engine: shard?.engine ?? null, ...check };
    }),
  );
}

/**
 * The platform's tenants at a glance: counts by status and tier, the tenants provisioning or a
 * migration left in error, how long provisioning takes, this isolate's routing cache, open circuits,
 * shards the probe found unhealthy, and a live check of five tenants' shards. DEGRADED (with the
 * reasons) when any of these is wrong; a failing control database throws.
 */
export async function tenantHealth(db: ControlDb, env: Env) {
  const [byStatus, byTier, failing, provisioning, open, openCount, unhealthy] = await Promise.all([
    db.select({ status: tenants.status, n: count() }).from(tenants).groupBy(tenants.status),
    db
      .select({ tier: tenants.tier, n: count() })
      .from(tenants)
      .where(inArray(tenants.status, ["ACTIVE", "SUSPENDED"]))
      .groupBy(tenants.tier),
    db
      .select({ id: tenants.id, status: tenants.status, reason: tenants.statusReason })
      .from(tenants)
      .where(inArray(tenants.status, ["PROVISION_ERROR", "MIGRATION_ERROR"]))
      .orderBy(asc(tenants.id))
      .limit(LISTED * 2),
    db
      .select({
        avg: sql<number | null>`avg(${tenants.provisionedAt} - ${tenants.createdAt})`,
        n: count(),
      })
      .from(tenants)
      .where(isNotNull(tenants.provisionedAt)),
    db
      .select()
      .from(circuitStates)
      .where(eq(circuitStates.state, "open"))
      .orderBy(asc(circuitStates.tenantId))
      .limit(LISTED),
    db.select({ n: count() }).from(circuitStates).where(eq(circuitStates.state, "open")),
    db.select({ id: shards.id, detail: shards.healthDetail }).from(shards).where(eq(shards.health, "unhealthy")),
  ]);
  const sample = await sampleShards(db, env);
  const statuses = Object.fromEntries(byStatus.map((row) => [row.status, row.n]));
  const inError = (status: "PROVISION_ERROR" | "MIGRATION_ERROR") => ({
    count: statuses[status] ?? 0,
    tenant_ids: failing
      .filter((t) => t.status === status)
      .slice(0, LISTED)
      .map((t) => t.id),
  });
  const provisionErrors = inError("PROVISION_ERROR");
  const migrationErrors = inError("MIGRATION_ERROR");
  const circuits = openCount[0]?.n ?? 0;
  const reasons: string[] = [];
  if (provisionErrors.count > 0) reasons.push(`${provisionErrors.count} tenant(s) in PROVISION_ERROR`);
  if (migrationErrors.count > 0) reasons.push(`${migrationErrors.count} tenant(s) in MIGRATION_ERROR`);
  if (circuits > 0) reasons.push(`${circuits} open circuit(s)`);
  for (const shard of unhealthy)
    reasons.push(`shard ${shard.id} is unhealthy${shard.detail ? `: ${shard.detail}` : ""}`);
  for (const check of sample) {
    if (check.status === "DOWN")
      reasons.push(`shard ${check.shard_id} did not answer for ${check.tenant_id}: ${check.error}`);
  }
  return {
    status: reasons.length === 0 ? ("UP" as const) : ("DEGRADED" as const),
    reasons,
    tenants: {
      active: statuses.ACTIVE ?? 0,
      by_status: statuses,
      by_tier: Object.fromEntries(byTier.map((row) => [row.tier, row.n])),
    },
    provision_errors: provisionErrors,
    migration_errors: migrationErrors,
    provisioning: {
      tenants: provisioning[0]?.n ?? 0,
      average_ms:
        provisioning[0]?.avg === null || provisioning[0]?.avg === undefined ? null : Math.round(provisioning[0].avg),
    },
    routing_cache: routeCacheStats(),
    circuits: {
      open: circuits,
      tenants: open.map((row) => ({ tenant_id: row.tenantId, dependency: row.dependency, since: row.changedAt })),
    },
    unhealthy_shards: unhealthy.map((shard) => shard.id),
    shard_sample: sample,
  };
}
