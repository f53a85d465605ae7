import { and, asc, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { AppError } from "../http/problems";
import { tenants } from "../tenants/schema";
import { migrateShard } from "./connection";
import { type Shard, shards } from "./schema";
import { getShard } from "./service";

export type MigrationResult = { shardId: string; applied: string[]; tenantsRestored: number };
export type MigrationFailure = { shardId: string; error: string; tenantsMarked: number };

/**
 * Applies one shard's pending migrations (either engine). If they fail, the shard's ACTIVE
 * tenants go to MIGRATION_ERROR (their data routes answer 409 until it is fixed); once a run
 * succeeds, its MIGRATION_ERROR tenants are ACTIVE again.
 */
async function migrateOne(db: ControlDb, env: Env, shard: Shard): Promise<MigrationResult | MigrationFailure> {
  const onShard = (status: "ACTIVE" | "MIGRATION_ERROR") =>
    and(eq(tenants.shardId, shard.id), eq(tenants.status, status));
  let applied: string[];
  try {
    applied = await migrateShard(env, shard);
  } catch (error) {
    const reason = `Shard migration failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500);
    const marked = await db
      .update(tenants)
      .set({ status: "MIGRATION_ERROR", statusReason: reason, updatedAt: Date.now() })
      .where(onShard("ACTIVE"))
      .returning({ id: tenants.id });
    return { shardId: shard.id, error: reason, tenantsMarked: marked.length };
  }
  const restored = await db
    .update(tenants)
    .set({ status: "ACTIVE", statusReason: null, updatedAt: Date.now() })
    .where(onShard("MIGRATION_ERROR"))
    .returning({ id: tenants.id });
  return { shardId: shard.id, applied, tenantsRestored: restored.length };
}

const failed = (outcome: MigrationResult | MigrationFailure): outcome is MigrationFailure => "error" in outcome;

const failureView = (f: MigrationFailure) => ({
  shard_id: f.shardId,
  error: f.error,
  tenants_marked: f.tenantsMarked,
});
export const resultView = (r: MigrationResult) => ({
  shard_id: r.shardId,
  applied: r.applied,
  tenants_restored: r.tenantsRestored,
});

/** One shard's deploy step; a failure is a 503 `shard-migration-failed` naming the tenants marked. */
export async function migrateShardTenants(db: ControlDb, env: Env, shardId: string): Promise<MigrationResult> {
  const outcome = await migrateOne(db, env, await getShard(db, shardId));
  if (failed(outcome)) {
    throw new AppError("shard-migration-failed", outcome.error, {
      extensions: { shard_id: outcome.shardId, tenants_marked: outcome.tenantsMarked },
    });
  }
  return outcome;
}

/**
 * The deploy step for the whole registry: every shard, one after another, each on its own (a
 * failing shard does not stop the others). Any failure is a 503 listing every shard's outcome.
 */
export async function migrateAllShards(db: ControlDb, env: Env): Promise<MigrationResult[]> {
  const outcomes: (MigrationResult | MigrationFailure)[] = [];
  for (const shard of await db.select().from(shards).orderBy(asc(shards.id))) {
    outcomes.push(await migrateOne(db, env, shard));
  }
  const failures = outcomes.filter(failed);
  if (failures.length > 0) {
    throw new AppError(
      "shard-migration-failed",
      `Migrations failed on ${failures.map((f) => f.shardId).join(", ")}; their tenants are in MIGRATION_ERROR`,
      { extensions: { shards: outcomes.map((o) => (failed(o) ? failureView(o) : resultView(o))) } },
    );
  }
  return outcomes as MigrationResult[];
}
