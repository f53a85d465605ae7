import { and, asc, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { MigrationFailed } from "../db/sql";
import { AppError } from "../http/problems";
import { tenants } from "../tenants/table";
import { migrateShard } from "./connection";
import { getShard } from "./service";
import { type Shard, shards } from "./table";

export type MigrationResult = { shardId: string; applied: string[]; tenantsRestored: number };
type MigrationFailure = { shardId: string; error: string; tenantsMarked: number; cause: unknown };
type Outcome = MigrationResult | MigrationFailure;

const failed = (outcome: Outcome): outcome is MigrationFailure => "error" in outcome;

/**
 * Applies one shard's pending migrations (either engine) and keeps its tenants in step: a failure
 * puts its ACTIVE tenants in MIGRATION_ERROR (their data routes answer 409 until it is fixed), a
 * success makes its MIGRATION_ERROR tenants ACTIVE again. `markUnreachable`: whether a shard that
 * could not be reached at all marks them too. The deploy step does (its tenants would run new code
 * on a schema nobody could check); placement does not (an outage is the circuit breaker's).
 */
async function migrateOne(db: ControlDb, env: Env, shard: Shard, markUnreachable: boolean): Promise<Outcome> {
  const onShard = (status: "ACTIVE" | "MIGRATION_ERROR") =>
    and(eq(tenants.shardId, shard.id), eq(tenants.status, status));
  let applied: string[];
  try {
    applied = await migrateShard(env, shard);
  } catch (cause) {
    const error = `Shard migration failed: ${cause instanceof Error ? cause.message : String(cause)}`.slice(0, 500);
    if (!markUnreachable && !(cause instanceof MigrationFailed)) {
      return { shardId: shard.id, error, tenantsMarked: 0, cause };
    }
    const marked = await db
      .update(tenants)
      .set({ status: "MIGRATION_ERROR", statusReason: error, updatedAt: Date.now() })
      .where(onShard("ACTIVE"))
      .returning({ id: tenants.id });
    return { shardId: shard.id, error, tenantsMarked: marked.length, cause };
  }
  const restored = await db
    .update(tenants)
    .set({ status: "ACTIVE", statusReason: null, updatedAt: Date.now() })
    .where(onShard("MIGRATION_ERROR"))
    .returning({ id: tenants.id });
  return { shardId: shard.id, applied, tenantsRestored: restored.length };
}

/**
 * Brings a shard up to date before a tenant is placed on (or moved to) it; throws what stopped
 * it. A migration that fails here marks the shard's tenants as the deploy step would.
 */
export async function prepareShard(db: ControlDb, env: Env, shard: Shard): Promise<void> {
  const outcome = await migrateOne(db, env, shard, false);
  if (failed(outcome)) throw outcome.cause;
}

const failureView = (f: MigrationFailure) => ({ shard_id: f.shardId, error: f.error, tenants_marked: f.tenantsMarked });
export const resultView = (r: MigrationResult) => ({
  shard_id: r.shardId,
  applied: r.applied,
  tenants_restored: r.tenantsRestored,
});

/** One shard's deploy step; a failure is a 503 `shard-migration-failed` naming the tenants marked. */
export async function migrateShardTenants(db: ControlDb, env: Env, shardId: string): Promise<MigrationResult> {
  const outcome = await migrateOne(db, env, await getShard(db, shardId), true);
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
  const outcomes: Outcome[] = [];
  for (const shard of await db.select().from(shards).orderBy(asc(shards.id))) {
    outcomes.push(await migrateOne(db, env, shard, true));
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
