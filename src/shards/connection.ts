import { drizzle } from "drizzle-orm/d1";
import * as shardSchema from "../db/shard-schema";
import { AppError } from "../http/problems";
import type { Shard } from "./schema";

export type ShardDb = ReturnType<typeof drizzle<typeof shardSchema>>;

function isD1(value: unknown): value is D1Database {
  return typeof value === "object" && value !== null && "prepare" in value && "batch" in value;
}

/**
 * Opens a registry shard through its declared binding. A registry row whose binding is not
 * declared (or is not a D1 database) is a 503 for that shard's tenants, never a crash.
 */
export function openShard(env: Env, shard: Pick<Shard, "id" | "engine" | "binding">): ShardDb {
  const binding: unknown = (env as unknown as Record<string, unknown>)[shard.binding];
  if (shard.engine !== "d1" || !isD1(binding)) {
    throw new AppError("shard-unavailable", `Shard ${shard.id} is not reachable through binding ${shard.binding}`);
  }
  return drizzle(binding, { schema: shardSchema });
}
