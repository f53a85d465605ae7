import { errorText } from "../db/errors";
import { AppError } from "../http/problems";
import { migrateD1Shard } from "./d1-migrate";
import { d1Store, type SessionStart } from "./d1-store";
import { migratePgShard } from "./pg-migrate";
import { openPgShard } from "./pg-store";
import type { ShardStore } from "./store";
import type { Shard } from "./table";

type ShardRef = Pick<Shard, "id" | "engine" | "binding">;

function isD1(value: unknown): value is D1Database {
  return typeof value === "object" && value !== null && "prepare" in value && "batch" in value;
}

function isHyperdrive(value: unknown): value is Hyperdrive {
  return typeof value === "object" && value !== null && typeof (value as Hyperdrive).connectionString === "string";
}

const bindingOf = (env: Env, shard: Pick<Shard, "binding">): unknown =>
  (env as unknown as Record<string, unknown>)[shard.binding];

/** Why the Worker cannot reach the shard through its binding, or null when it can. */
export function bindingProblem(env: Env, shard: Pick<Shard, "engine" | "binding">): string | null {
  const binding = bindingOf(env, shard);
  if (binding === undefined) return `binding ${shard.binding} is not declared`;
  if (shard.engine === "d1" && !isD1(binding)) return `binding ${shard.binding} is not a D1 database`;
  if (shard.engine === "postgres" && !isHyperdrive(binding)) return `binding ${shard.binding} is not a Hyperdrive`;
  return null;
}

function unreachable(env: Env, shard: ShardRef) {
  const problem = bindingProblem(env, shard);
  return problem ? new AppError("shard-unavailable", `Shard ${shard.id} is not reachable: ${problem}`) : null;
}

/**
 * Opens a registry shard through its declared binding: a D1 database, or PostgreSQL through
 * Hyperdrive (one connection per request). A registry row whose binding is not declared (or is
 * of the wrong kind) is a 503 for that shard's tenants, never a crash. The caller closes the store.
 */
export async function openStore(env: Env, shard: ShardRef, start?: SessionStart): Promise<ShardStore> {
  const problem = unreachable(env, shard);
  if (problem) throw problem;
  const binding = bindingOf(env, shard);
  return shard.engine === "postgres"
    ? openPgShard((binding as Hyperdrive).connectionString)
    : d1Store(binding as D1Database, start);
}

/**
 * Brings the shard's schema up to date with the migrations bundled in this Worker, and returns
 * the ones it applied; idempotent and safe to run concurrently on both engines. Runs before a
 * tenant is placed on (or moved to) the shard, and after a deploy (`POST /v1/shards/migrate`).
 */
export async function migrateShard(env: Env, shard: ShardRef): Promise<string[]> {
  const problem = unreachable(env, shard);
  if (problem) throw problem;
  const binding = bindingOf(env, shard);
  return shard.engine === "postgres"
    ? migratePgShard((binding as Hyperdrive).connectionString)
    : migrateD1Shard(binding as D1Database);
}

/**
 * For jobs that walk every shard: runs `work` on one shard's store and closes it. A shard out of
 * reach (or failing) is logged as `what` and answers undefined, so it holds back no other shard.
 */
export async function eachShardJob<T>(
  env: Env,
  shard: ShardRef,
  what: string,
  work: (store: ShardStore) => Promise<T>,
): Promise<T | undefined> {
  try {
    const store = await openStore(env, shard);
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  } catch (error) {
    console.warn(JSON.stringify({ level: "warn", msg: what, shard_id: shard.id, error: errorText(error) }));
    return undefined;
  }
}
