import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs } from "../db/columns";

/**
 * A shard's own record of the tenants it holds, written at provisioning. The usage counters are
 * kept by triggers on the tenant tables (migrations/shard/0003), and the same triggers refuse a
 * write that would take usage past `max_*`, which each write sets from the tenant's current plan
 * in the same transaction: the storage quota is exact under any concurrency.
 */
export const shardTenants = sqliteTable("shard_tenants", {
  tenantId: text("tenant_id").primaryKey(),
  provisionedAt: epochMs("provisioned_at").notNull(),
  entryCount: integer("entry_count").notNull().default(0),
  storedBytes: integer("stored_bytes").notNull().default(0),
  maxEntries: integer("max_entries"),
  maxStoredBytes: integer("max_stored_bytes"),
});
