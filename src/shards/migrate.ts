import { and, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { AppError } from "../http/problems";
import { tenants } from "../tenants/schema";
import { migrateShard } from "./connection";
import { getShard } from "./service";

export type MigrationResult = { shardId: string; applied: string[]; tenantsRestored: number };

/**
 * Deploy step for a PostgreSQL shard: applies its pending migrations. If they fail, the shard's
 * ACTIVE tenants go to MIGRATION_ERROR (their data routes answer 409 until it is fixed) and the
 * answer is 503; once a run succeeds, its MIGRATION_ERROR tenants are ACTIVE again.
 */
export async function migrateShardTenants(db: ControlDb, env: Env, shardId: string): Promise<MigrationResult> {
  const shard = await getShard(db, shardId);
  if (shard.engine !== "postgres") {
    throw new AppError("conflict", "D1 shards are migrated with `wrangler d1 migrations apply`");
  }
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
    throw new AppError("shard-migration-failed", reason, {
      extensions: { shard_id: shard.id, tenants_marked: marked.length },
    });
  }
  const restored = await db
    .update(tenants)
    .set({ status: "ACTIVE", statusReason: null, updatedAt: Date.now() })
    .where(onShard("MIGRATION_ERROR"))
    .returning({ id: tenants.id });
  return { shardId: shard.id, applied, tenantsRestored: restored.length };
}
