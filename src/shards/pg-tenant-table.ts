import { bigint, integer, pgTable } from "drizzle-orm/pg-core";
import { binaryText, epochMs } from "../entries/pg-table";

/**
 * A PostgreSQL shard's record of its tenants, as src/shards/tenant-table.ts is for D1. The usage
 * counters are kept, and `max_*` enforced, by triggers on entries (migrations/shard-pg/0002).
 */
export const shardTenants = pgTable("shard_tenants", {
  tenantId: binaryText("tenant_id").primaryKey(),
  provisionedAt: epochMs("provisioned_at").notNull(),
  entryCount: integer("entry_count").notNull().default(0),
  storedBytes: bigint("stored_bytes", { mode: "number" }).notNull().default(0),
  maxEntries: integer("max_entries"),
  maxStoredBytes: bigint("max_stored_bytes", { mode: "number" }),
});
