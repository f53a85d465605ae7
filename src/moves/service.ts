import { and, eq, inArray, notExists, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { enqueue } from "../jobs/enqueue";
import { plans } from "../plans/table";
import { tenantRestores, unfinishedRestore } from "../restores/table";
import { findShard, placeTenant, requireEligibleShard } from "../shards/service";
import { shards } from "../shards/table";
import { getTenant } from "../tenants/service";
import { type TenantStatus, tenants } from "../tenants/table";
import { moveLeases } from "./leases";
import { moveStepMessage } from "./messages";
import { type TenantMove, tenantMoves, unfinished } from "./table";

/** Does the tier's plan place its tenants on dedicated shards? (An unknown tier: shared.) */
async function wantsDedicated(db: ControlDb, tier: string): Promise<boolean> {
  const plan = await db.query.plans.findFirst({ where: eq(plans.tier, tier) });
  return plan?.dedicatedShard ?? false;
}

/** Tenants in these states hold data that can be moved. */
const MOVABLE: TenantStatus[] = ["ACTIVE", "SUSPENDED"];

/**
 * Starts moving the tenant's data to `targetShardId`: records the move and queues its first step
 * (src/moves/job.ts). The target must be a shard placement could have chosen for the tenant
 * (active, the plan's pool, the tenant's data region, reachable).
 */
export async function startMove(db: ControlDb, env: Env, tenantId: string, targetShardId: string): Promise<TenantMove> {
  const tenant = await getTenant(db, tenantId);
  if (!MOVABLE.includes(tenant.status)) {
    throw new AppError("tenant-not-ready", `A tenant in ${tenant.status} cannot be moved`);
  }
  if (!tenant.shardId) throw new AppError("tenant-not-ready", "The tenant has no shard yet");
  const restoring = await db.query.tenantRestores.findFirst({
    where: and(eq(tenantRestores.tenantId, tenantId), unfinishedRestore()),
  });
  if (restoring) {
    throw new AppError("conflict", "A restore of the tenant is under way; move it once that is done", {
      extensions: { restore_id: restoring.id },
    });
  }
  if (tenant.shardId === targetShardId) {
    throw new AppError("conflict", `The tenant is already on shard ${targetShardId}`);
  }
  await requireEligibleShard(db, env, targetShardId, {
    dedicated: await wantsDedicated(db, tenant.tier),
    region: tenant.dataRegion,
  });
  const now = Date.now();
  const [move] = await db
    .insert(tenantMoves)
    .values({
      id: newId("mov"),
      tenantId,
      sourceShardId: tenant.shardId,
      targetShardId,
      state: "queued",
      nextStepAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (!move) {
    const running = await runningMove(db, tenantId);
    throw new AppError("conflict", "The tenant is already being moved", {
      extensions: running ? { move_id: running.id } : {},
    });
  }
  await enqueue(env, moveStepMessage, { moveId: move.id, seq: move.stepSeq });
  return move;
}

/**
 * After a tier change: a tenant whose shard is not of its plan's pool (shared, or dedicated) is
 * moved to one placement picks. Returns the move started, if any; none when the tenant already
 * fits, is not movable, is being moved, or no shard of the pool can take it now (an operator can
 * move it later).
 */
export async function moveToPlanPool(db: ControlDb, env: Env, tenantId: string): Promise<TenantMove | null> {
  const tenant = await getTenant(db, tenantId);
  if (!MOVABLE.includes(tenant.status) || !tenant.shardId) return null;
  const [dedicated, shard] = await Promise.all([wantsDedicated(db, tenant.tier), findShard(db, tenant.shardId)]);
  if (!shard || shard.dedicated === dedicated || (await runningMove(db, tenantId))) return null;
  const placement = await placeTenant(db, env, { dedicated, region: tenant.dataRegion });
  if (!placement.shard) return null;
  return startMove(db, env, tenantId, placement.shard.id);
}

/** Tenants one pass of the reconciliation looks at, at most: a pass is bounded, the next goes on. */
const RECONCILE_BATCH = 50;

/**
 * Moves tenants that sit on a shard of the wrong pool (a dedicated shard and a shared plan, or
 * the other way round) because no shard of their plan's pool could take them when their tier
 * changed, or a move that would have done it failed. Run by the hourly cron; returns the moves
 * started. A tenant no shard can take yet is tried again next time.
 */
export async function moveTenantsToTheirPools(db: ControlDb, env: Env): Promise<TenantMove[]> {
  const astray = await db
    .select({ id: tenants.id })
    .from(tenants)
    .innerJoin(shards, eq(shards.id, tenants.shardId))
    .leftJoin(plans, eq(plans.tier, tenants.tier))
    .where(
      and(
        inArray(tenants.status, MOVABLE),
        sql`${shards.dedicated} <> coalesce(${plans.dedicatedShard}, 0)`,
        notExists(
          db
            .select({ id: tenantMoves.id })
            .from(tenantMoves)
            .where(and(eq(tenantMoves.tenantId, tenants.id), unfinished())),
        ),
      ),
    )
    .limit(RECONCILE_BATCH);
  const started: TenantMove[] = [];
  for (const { id } of astray) {
    const move = await moveToPlanPool(db, env, id);
    if (move) started.push(move);
  }
  return started;
}

export async function runningMove(db: ControlDb, tenantId: string): Promise<TenantMove | undefined> {
  return db.query.tenantMoves.findFirst({
    where: and(eq(tenantMoves.tenantId, tenantId), unfinished()),
  });
}

/** One of the tenant's moves; another tenant's move id is 404 like an unknown one. */
export async function getMove(db: ControlDb, tenantId: string, moveId: string): Promise<TenantMove> {
  const move = await db.query.tenantMoves.findFirst({
    where: and(eq(tenantMoves.tenantId, tenantId), eq(tenantMoves.id, moveId)),
  });
  if (!move) throw notFound("Move");
  return move;
}

export async function listMoves(db: ControlDb, tenantId: string, page: PageRequest) {
  const keyset = newestFirst(tenantMoves.id, page);
  const rows = await db
    .select()
    .from(tenantMoves)
    .where(and(eq(tenantMoves.tenantId, tenantId), keyset.after))
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}

/**
 * Queues a step for every move that has stalled: its next step is OVERDUE_MS late and no
 * consumer holds it (a running step renews its lease, however slow it is). The message names
 * the move's current step count, so if the first one was only late, whichever runs second is
 * dropped as stale. Run by the per-minute cron; returns the ids resumed.
 */
export const resumeStalledMoves = (db: ControlDb, env: Env, now = Date.now()): Promise<string[]> =>
  moveLeases.resumeStalled(db, (moveId, seq) => enqueue(env, moveStepMessage, { moveId, seq }), now);
