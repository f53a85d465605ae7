import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs } from "../db/columns";

export const SHARD_ENGINES = ["d1", "postgres"] as const;
export const SHARD_STATUSES = ["active", "draining", "read-only", "unhealthy"] as const;
export const SHARD_HEALTH = ["unknown", "healthy", "unhealthy"] as const;
export type ShardEngine = (typeof SHARD_ENGINES)[number];
export type ShardStatus = (typeof SHARD_STATUSES)[number];
export type ShardHealth = (typeof SHARD_HEALTH)[number];

/**
 * Registry of tenant-data databases; `binding` names the Worker binding that reaches it.
 * `status` is the operator's; `health` and the counters are what the last probe found.
 */
export const shards = sqliteTable("shards", {
  id: text("id").primaryKey(),
  engine: text("engine").$type<ShardEngine>().notNull(),
  binding: text("binding").notNull(),
  region: text("region"),
  dedicated: integer("dedicated", { mode: "boolean" }).notNull().default(false),
  status: text("status").$type<ShardStatus>().notNull().default("active"),
  health: text("health").$type<ShardHealth>().notNull().default("unknown"),
  healthDetail: text("health_detail"),
  probedAt: epochMs("probed_at"),
  probeMs: integer("probe_ms"),
  entryCount: integer("entry_count").notNull().default(0),
  storedBytes: integer("stored_bytes").notNull().default(0),
  createdAt: epochMs("created_at").notNull(),
});

export type Shard = typeof shards.$inferSelect;

/**
 * Round-robin cursors of placement, one per pool (shared or dedicated, and region): kept in the
 * control database so every isolate advances the same cursor and a restart does not reset it.
 */
export const placementCursors = sqliteTable("placement_cursors", {
  pool: text("pool").primaryKey(),
  next: integer("next").notNull(),
});
