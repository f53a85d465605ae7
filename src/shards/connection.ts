import { AppError } from "../http/problems";
import { d1Store } from "./d1-store";
import type { Shard } from "./schema";
import type { ShardStore } from "./store";

function isD1(value: unknown): value is D1Database {
  return typeof value === "object" && value !== null && "prepare" in value && "batch" in value;
}

/** Why the Worker cannot reach the shard through its binding, or null when it can. */
export function bindingProblem(env: Env, shard: Pick<Shard, "engine" | "binding">): string | null {
  const binding: unknown = (env as unknown as Record<string, unknown>)[shard.binding];
  if (binding === undefined) return `binding ${shard.binding} is not declared`;
  if (shard.engine === "d1" && !isD1(binding)) return `binding ${shard.binding} is not a D1 database`;
  if (shard.engine !== "d1") return `engine ${shard.engine} is not served yet`;
  return null;
}

/**
 * Opens a registry shard through its declared binding. A registry row whose binding is not
 * declared (or is of the wrong kind) is a 503 for that shard's tenants, never a crash.
 * The caller closes the store when done.
 */
export async function openStore(env: Env, shard: Pick<Shard, "id" | "engine" | "binding">): Promise<ShardStore> {
  const problem = bindingProblem(env, shard);
  if (problem) throw new AppError("shard-unavailable", `Shard ${shard.id} is not reachable: ${problem}`);
  return d1Store((env as unknown as Record<string, D1Database>)[shard.binding] as D1Database);
}
