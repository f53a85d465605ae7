import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs } from "../db/columns";

export const SHARD_ENGINES = ["d1"] as const;
export const SHARD_STATUSES = ["active", "draining", "read-only", "unhealthy"] as const;
export type ShardEngine = (typeof SHARD_ENGINES)[number];
export type ShardStatus = (typeof SHARD_STATUSES)[number];

/** Registry of tenant-data databases; `binding` names the Worker binding that reaches it. */
export const shards = sqliteTable("shards", {
  id: text("id").primaryKey(),
  engine: text("engine").$type<ShardEngine>().notNull(),
  binding: text("binding").notNull(),
  region: text("region"),
  dedicated: integer("dedicated", { mode: "boolean" }).notNull().default(false),
  status: text("status").$type<ShardStatus>().notNull().default("active"),
  createdAt: epochMs("created_at").notNull(),
});

export type Shard = typeof shards.$inferSelect;
