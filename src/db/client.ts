import { drizzle } from "drizzle-orm/d1";
import * as controlSchema from "./control-schema";
import type * as shardSchema from "./shard-schema";

/** Typed drizzle client over the control database. */
export const controlDb = (env: Pick<Env, "CONTROL_DB">) => drizzle(env.CONTROL_DB, { schema: controlSchema });
export type ControlDb = ReturnType<typeof controlDb>;

/** Typed drizzle client over a D1 shard (src/shards/d1-store.ts opens it through a session). */
export type ShardDb = ReturnType<typeof drizzle<typeof shardSchema>>;
