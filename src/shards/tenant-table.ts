import { shardColumn as column, shardTable } from "../db/shard-columns";

/**
 * A shard's own record of the tenants it holds, written at provisioning. The usage counters are
 * kept by triggers on the tenant tables (migrations/shard/0003, migrations/shard-pg/0002), and the
 * same triggers refuse a write that would take usage past `max_*`, which each write sets from the
 * tenant's current plan in the same transaction: the storage quota is exact under any concurrency.
 */
const shardTenantTables = shardTable("shard_tenants", {
  tenantId: column.primaryKey("tenant_id"),
  provisionedAt: column.epochMs("provisioned_at"),
  entryCount: column.counter("entry_count"),
  storedBytes: column.bytes("stored_bytes"),
  maxEntries: column.optionalInt("max_entries"),
  maxStoredBytes: column.optionalBytes("max_stored_bytes"),
});

export const shardTenants = shardTenantTables.sqlite;
export const pgShardTenants = shardTenantTables.pg;
