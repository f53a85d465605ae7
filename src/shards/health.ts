import { eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { settings } from "../settings";
import { bindingProblem, openStore } from "./connection";
import { within } from "./deadline";
import { type Shard, shards } from "./table";

/**
 * Probes one shard: is its binding declared, does it answer, how long did it take, and what does
 * it hold (tenants, entries, bytes, from the counters its triggers keep). Stores the result in
 * the registry and returns the updated row; never throws for the shard's own failures.
 */
export async function probeShard(db: ControlDb, env: Env, shard: Shard): Promise<Shard> {
  const started = Date.now();
  let update: Partial<Shard>;
  try {
    const problem = bindingProblem(env, shard);
    if (problem) throw new Error(problem);
    const usage = await within(
      openStore(env, shard).then((store) => store.totals().finally(() => store.close())),
      settings(env).shardTimeoutMs,
    );
    update = {
      health: "healthy",
      healthDetail: null,
      probeMs: Date.now() - started,
      entryCount: usage.entryCount,
      storedBytes: usage.storedBytes,
    };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    update = { health: "unhealthy", healthDetail: detail.slice(0, 500), probeMs: null };
  }
  const [row] = await db
    .update(shards)
    .set({ ...update, probedAt: Date.now() })
    .where(eq(shards.id, shard.id))
    .returning();
  return row ?? { ...shard, ...update };
}

/** Probes every registered shard at once (the cron does this every 5 minutes). */
export async function probeAllShards(db: ControlDb, env: Env): Promise<Shard[]> {
  const all = await db.select().from(shards);
  return Promise.all(all.map((shard) => probeShard(db, env, shard)));
}
