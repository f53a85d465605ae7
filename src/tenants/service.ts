import { and, asc, eq, gt, ne, type SQL, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import type { Emit } from "../events/domain";
import type { EventType } from "../events/event";
import { outboxEvent } from "../events/outbox";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { plans } from "../plans/table";
import { bindingProblem, openStore } from "../shards/connection";
import { prepareShard } from "../shards/migrate";
import { findShard, placeTenant, regionExists, requireEligibleShard } from "../shards/service";
import { tenantRow } from "./dataset";
import { type LimitOverrides, type Tenant, type TenantStatus, tenants } from "./table";

export type NewTenant = {
  name: string;
  slug: string;
  tier: string;
  trialEndsAt?: number | null;
  dataRegion?: string | null;
  /** The operator's choice of shard instead of round-robin placement. */
  shardId?: string | null;
};
export type TenantPatch = {
  name?: string;
  tier?: string;
  status?: "ACTIVE" | "SUSPENDED";
  limits?: LimitOverrides;
};
export type TenantFilter = { status?: TenantStatus; tier?: string };

export async function getTenant(db: ControlDb, tenantId: string): Promise<Tenant> {
  const tenant = await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) });
  if (!tenant) throw notFound("Tenant");
  return tenant;
}

/**
 * The one statement that changes which shard holds a tenant (placement here, a move's switch in
 * src/moves/job.ts); with `from`, only while the tenant is still on that shard. A statement, so
 * a move can batch it with its own state change.
 */
export const placeOn = (db: ControlDb, tenantId: string, shardId: string | null, from?: string, now = Date.now()) =>
  db
    .update(tenants)
    .set({ shardId, updatedAt: now })
    .where(and(eq(tenants.id, tenantId), from === undefined ? undefined : eq(tenants.shardId, from)));

async function requirePlan(db: ControlDb, tier: string) {
  const plan = await db.query.plans.findFirst({ where: eq(plans.tier, tier) });
  if (!plan) throw new AppError("unprocessable-entity", `Unknown tier ${tier}`);
  return plan;
}

/** The event of a change to the tenant's row, in the change's batch. */
const tenantEvent = (db: ControlDb, emit: Emit, type: EventType, tenantId: string) =>
  outboxEvent(db, emit, { type, tenantId, subject: "tenant", dataset: tenantRow, where: tenantId });

async function setStatus(
  db: ControlDb,
  emit: Emit,
  tenantId: string,
  status: TenantStatus,
  reason: string | null,
  event: EventType,
) {
  const [[row]] = await db.batch([
    db
      .update(tenants)
      .set({
        status,
        statusReason: reason,
        updatedAt: Date.now(),
        // The first time it became ready: how long provisioning took is health's figure.
        ...(status === "ACTIVE" && event === "tenant.provisioned"
          ? { provisionedAt: sql`coalesce(${tenants.provisionedAt}, ${Date.now()})` }
          : {}),
      })
      // A deletion that landed meanwhile (during provisioning) is never undone by it.
      .where(and(eq(tenants.id, tenantId), ne(tenants.status, "DELETED")))
      .returning(),
    tenantEvent(db, emit, event, tenantId),
  ]);
  return row as Tenant;
}

/**
 * Places the tenant on a shard and registers it there. Failure leaves the tenant in
 * PROVISION_ERROR with the reason, from which provisioning can be retried.
 */
async function provision(db: ControlDb, emit: Emit, env: Env, tenant: Tenant): Promise<Tenant> {
  const settle = (status: TenantStatus, reason: string | null) =>
    setStatus(db, emit, tenant.id, status, reason, "tenant.provisioned");
  try {
    // Keep an earlier placement only while that shard is still active and reachable; a tenant
    // that never finished provisioning holds no data there, so it can be placed again.
    let shard = tenant.shardId ? await findShard(db, tenant.shardId) : undefined;
    if (shard?.status !== "active" || bindingProblem(env, shard)) {
      const plan = await requirePlan(db, tenant.tier);
      const placement = await placeTenant(db, env, { dedicated: plan.dedicatedShard, region: tenant.dataRegion });
      await placeOn(db, tenant.id, placement.shard?.id ?? null);
      if (!placement.shard) return await settle("PROVISION_ERROR", placement.reason);
      shard = placement.shard;
    }
    await prepareShard(db, env, shard);
    const store = await openStore(env, shard);
    try {
      await store.registerTenant(tenant.id);
    } finally {
      await store.close();
    }
    return await settle("ACTIVE", null);
  } catch (error) {
    const reason = error instanceof Error ? error.message : "Provisioning failed";
    return await settle("PROVISION_ERROR", reason.slice(0, 500));
  }
}

export async function createTenant(db: ControlDb, emit: Emit, env: Env, input: NewTenant): Promise<Tenant> {
  const plan = await requirePlan(db, input.tier);
  if (input.dataRegion && !(await regionExists(db, input.dataRegion))) {
    throw new AppError("unprocessable-entity", `No shard serves data region ${input.dataRegion}`);
  }
  const pinned = input.shardId
    ? await requireEligibleShard(db, env, input.shardId, {
        dedicated: plan.dedicatedShard,
        region: input.dataRegion ?? null,
      })
    : null;
  const now = Date.now();
  const id = newId("ten");
  const [inserted] = await db.batch([
    db
      .insert(tenants)
      .values({
        id,
        slug: input.slug,
        name: input.name,
        tier: input.tier,
        status: "PROVISIONING",
        trialEndsAt: input.trialEndsAt ?? null,
        dataRegion: input.dataRegion ?? null,
        shardId: pinned?.id ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing({ target: tenants.slug })
      .returning(),
    tenantEvent(db, emit, "tenant.created", id),
  ]);
  const tenant = inserted[0];
  if (!tenant) throw new AppError("conflict", `A tenant with slug ${input.slug} already exists`);
  const provisioned = await provision(db, emit, env, tenant);
  await emit({ type: "tenant.created", tenantId: tenant.id });
  return provisioned;
}

export async function retryProvisioning(db: ControlDb, emit: Emit, env: Env, tenantId: string): Promise<Tenant> {
  const tenant = await getTenant(db, tenantId);
  if (tenant.status !== "PROVISION_ERROR") {
    throw new AppError(
      "conflict",
      `Only a tenant in PROVISION_ERROR can be provisioned again (status: ${tenant.status})`,
    );
  }
  const provisioning = await setStatus(db, emit, tenantId, "PROVISIONING", null, "tenant.updated");
  const provisioned = await provision(db, emit, env, provisioning);
  await emit({ type: "tenant.provisioned", tenantId });
  return provisioned;
}

/**
 * Up to `limit` ids of the tenants `where` selects, in ascending id order after `after` (null:
 * from the first): a fan-out's page (src/jobs/fan-out.ts).
 */
export async function tenantIdsAfter(db: ControlDb, where: SQL | undefined, after: string | null, limit: number) {
  const rows = await db
    .select({ id: tenants.id })
    .from(tenants)
    .where(and(where, after === null ? undefined : gt(tenants.id, after)))
    .orderBy(asc(tenants.id))
    .limit(limit);
  return rows.map((row) => row.id);
}

export async function listTenants(db: ControlDb, filter: TenantFilter, page: PageRequest) {
  const keyset = newestFirst(tenants.id, page);
  const rows = await db
    .select()
    .from(tenants)
    .where(
      and(
        filter.status ? eq(tenants.status, filter.status) : undefined,
        filter.tier ? eq(tenants.tier, filter.tier) : undefined,
        keyset.after,
      ),
    )
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}

const SUSPENDABLE: readonly TenantStatus[] = ["ACTIVE", "SUSPENDED"];

export async function updateTenant(db: ControlDb, emit: Emit, tenantId: string, patch: TenantPatch): Promise<Tenant> {
  const tenant = await getTenant(db, tenantId);
  if (patch.tier !== undefined) await requirePlan(db, patch.tier);
  if (patch.status !== undefined && patch.status !== tenant.status && !SUSPENDABLE.includes(tenant.status)) {
    throw new AppError("conflict", `A tenant in ${tenant.status} cannot be set to ${patch.status}`);
  }
  const [[row]] = await db.batch([
    db
      .update(tenants)
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.tier !== undefined ? { tier: patch.tier } : {}),
        ...(patch.limits !== undefined ? { limitOverrides: patch.limits } : {}),
        ...(patch.status !== undefined ? { status: patch.status, statusReason: null } : {}),
        updatedAt: Date.now(),
      })
      .where(and(eq(tenants.id, tenantId), ne(tenants.status, "DELETED")))
      .returning(),
    tenantEvent(db, emit, "tenant.updated", tenantId),
  ]);
  await emit({ type: "tenant.updated", tenantId });
  return row as Tenant;
}
