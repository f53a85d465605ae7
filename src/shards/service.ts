import { and, asc, count, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { AppError, notFound } from "../http/problems";
import { tenants } from "../tenants/table";
import { bindingProblem } from "./connection";
import { probeShard } from "./health";
import { placementCursors, type Shard, type ShardStatus, shards } from "./table";

export async function findShard(db: ControlDb, shardId: string): Promise<Shard | undefined> {
  return db.query.shards.findFirst({ where: eq(shards.id, shardId) });
}

export async function getShard(db: ControlDb, shardId: string): Promise<Shard> {
  const shard = await findShard(db, shardId);
  if (!shard) throw notFound("Shard");
  return shard;
}

/** How long a healthy probe result is trusted by placement: the cron probes this often. */
const PROBE_INTERVAL_MS = 5 * 60_000;

const isFreshlyHealthy = (env: Env, shard: Shard, now: number) =>
  shard.health === "healthy" &&
  shard.probedAt !== null &&
  now - shard.probedAt <= PROBE_INTERVAL_MS &&
  bindingProblem(env, shard) === null;

export type PlacementRequest = { dedicated: boolean; region: string | null };
export type Placement = { shard: Shard } | { shard: null; reason: string };

/**
 * Placement: round-robin over the active, reachable shards of the pool (dedicated shards for
 * plans that ask for one, shared ones otherwise), restricted to the tenant's data region. The
 * cursor lives in the control database, so it is one sequence for every isolate and survives
 * restarts. A dedicated plan never falls back to a shared shard.
 */
export async function placeTenant(db: ControlDb, env: Env, request: PlacementRequest): Promise<Placement> {
  const rows = await db
    .select()
    .from(shards)
    .where(
      and(
        eq(shards.status, "active"),
        eq(shards.dedicated, request.dedicated),
        request.region === null ? undefined : eq(shards.region, request.region),
      ),
    )
    .orderBy(asc(shards.id));
  // A shard is placed on only if a recent probe found it healthy; otherwise it is probed now
  // (a registry row whose binding is missing, a database that is down: marked unhealthy, skipped).
  const now = Date.now();
  const checked = await Promise.all(
    rows.map((shard) => (isFreshlyHealthy(env, shard, now) ? shard : probeShard(db, env, shard))),
  );
  const candidates = checked.filter((shard) => shard.health !== "unhealthy");
  if (candidates.length === 0) {
    const pool = `${request.dedicated ? "dedicated" : "shared"} shard${request.region ? ` in region ${request.region}` : ""}`;
    const skipped = checked.map((shard) => `${shard.id}: ${shard.healthDetail}`).join("; ");
    return { shard: null, reason: `No active ${pool} is available${skipped ? ` (skipped ${skipped})` : ""}` };
  }
  const pool = `${request.dedicated ? "dedicated" : "shared"}:${request.region ?? "*"}`;
  const [cursor] = await db
    .insert(placementCursors)
    .values({ pool, next: 1 })
    .onConflictDoUpdate({ target: placementCursors.pool, set: { next: sql`${placementCursors.next} + 1` } })
    .returning();
  const turn = (cursor?.next ?? 1) - 1;
  return { shard: candidates[turn % candidates.length] as Shard };
}

/** An operator's explicit choice of shard for a new tenant, held to the rules of placement. */
export async function requireEligibleShard(
  db: ControlDb,
  env: Env,
  shardId: string,
  request: PlacementRequest,
): Promise<Shard> {
  const shard = await findShard(db, shardId);
  const refuse = (why: string) =>
    new AppError("unprocessable-entity", `Shard ${shardId} cannot take this tenant: ${why}`);
  if (!shard) throw refuse("it is not registered");
  if (shard.status !== "active") throw refuse(`it is ${shard.status}`);
  if (shard.dedicated !== request.dedicated) {
    throw refuse(request.dedicated ? "the plan needs a dedicated shard" : "it is dedicated to plans that ask for one");
  }
  if (request.region !== null && shard.region !== request.region) throw refuse(`it is not in region ${request.region}`);
  const problem = bindingProblem(env, shard);
  if (problem) throw refuse(problem);
  return shard;
}

/** Is some registered shard, whatever its status, in this region? */
export async function regionExists(db: ControlDb, region: string): Promise<boolean> {
  const row = await db.query.shards.findFirst({ where: eq(shards.region, region), columns: { id: true } });
  return row !== undefined;
}

export type ShardWithCounts = Shard & { tenantCount: number };

/** The registry with each shard's tenant count; `ids` narrows it. */
export async function listShards(db: ControlDb, ids?: string[]): Promise<ShardWithCounts[]> {
  const [rows, counts] = await Promise.all([
    db
      .select()
      .from(shards)
      .where(ids ? inArray(shards.id, ids) : undefined)
      .orderBy(asc(shards.id)),
    db
      .select({ shardId: tenants.shardId, tenants: count() })
      .from(tenants)
      .where(isNotNull(tenants.shardId))
      .groupBy(tenants.shardId),
  ]);
  const byShard = new Map(counts.map((c) => [c.shardId, c.tenants]));
  return rows.map((shard) => ({ ...shard, tenantCount: byShard.get(shard.id) ?? 0 }));
}

export async function setShardStatus(db: ControlDb, shardId: string, status: ShardStatus): Promise<Shard> {
  const [row] = await db.update(shards).set({ status }).where(eq(shards.id, shardId)).returning();
  if (!row) throw notFound("Shard");
  return row;
}
