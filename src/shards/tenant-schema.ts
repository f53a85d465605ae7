import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { epochMs } from "../db/columns";

/** A shard's own record of the tenants it holds, written at provisioning. */
export const shardTenants = sqliteTable("shard_tenants", {
  tenantId: text("tenant_id").primaryKey(),
  provisionedAt: epochMs("provisioned_at").notNull(),
});
