import { asc, count, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { notFound } from "../http/problems";
import { tenants } from "../tenants/schema";
import { type Shard, shards } from "./schema";

export async function findShard(db: ControlDb, shardId: string): Promise<Shard | undefined> {
  return db.query.shards.findFirst({ where: eq(shards.id, shardId) });
}

export async function getShard(db: ControlDb, shardId: string): Promise<Shard> {
  const shard = await findShard(db, shardId);
  if (!shard) throw notFound("Shard");
  return shard;
}

/**
 * Placement: the active shard holding the fewest tenants, preferring dedicated shards for plans
 * that ask for one. Returns null when no active shard exists.
 */
export async function pickShard(db: ControlDb, wantsDedicated: boolean): Promise<Shard | null> {
  const candidates = await db
    .select({ shard: shards, tenantCount: count(tenants.id) })
    .from(shards)
    .leftJoin(tenants, eq(tenants.shardId, shards.id))
    .where(eq(shards.status, "active"))
    .groupBy(shards.id)
    .orderBy(asc(count(tenants.id)), asc(shards.id));
  const dedicated = candidates.filter((c) => c.shard.dedicated);
  const shared = candidates.filter((c) => !c.shard.dedicated);
  const pool = wantsDedicated && dedicated.length > 0 ? dedicated : shared;
  return pool[0]?.shard ?? null;
}
