import { drizzle } from "drizzle-orm/d1";
import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import * as controlSchema from "./control-tables";
import type * as shardPgSchema from "./shard-pg-tables";
import type * as shardSchema from "./shard-tables";

const open = (database: D1Database) => drizzle(database, { schema: controlSchema });

/** Typed drizzle client over the control database. */
export type ControlDb = ReturnType<typeof open>;

// One client per binding and isolate: building one maps the whole schema, on every call otherwise.
const clients = new WeakMap<D1Database, ControlDb>();

/** The control database's client; requests use theirs from `c.var.db` (src/http/control-plane.ts). */
export function controlDb(env: Pick<Env, "CONTROL_DB">): ControlDb {
  let db = clients.get(env.CONTROL_DB);
  if (!db) {
    db = open(env.CONTROL_DB);
    clients.set(env.CONTROL_DB, db);
  }
  return db;
}

/** Typed drizzle client over a D1 shard (src/shards/d1-store.ts opens it through a session). */
export type ShardDb = ReturnType<typeof drizzle<typeof shardSchema>>;

/** Typed drizzle client over a PostgreSQL shard, on one connection (src/shards/pg-store.ts). */
export type PgShardDb = NodePgDatabase<typeof shardPgSchema>;
export type PgShardTx = Parameters<Parameters<PgShardDb["transaction"]>[0]>[0];
