import { eq } from "drizzle-orm";
import type { PgShardDb, PgShardTx } from "../../db/client";
import type { StorageLimits } from "../../shards/store";
import { pgShardTenants as shardTenants } from "../../shards/tenant-table";
import { pgEntries as entries, pgEntryTags as entryTags } from "../table";
import { entryStatements } from "./entries";

// The entries on a PostgreSQL shard: a write is one transaction on the store's connection that
// takes the tenant's usage row first (setting its storage limits, which the quota triggers check).

/**
 * Every write locks the tenant's usage row before any entry row: the usage triggers lock it too
 * (after the entry), and taking it first everywhere keeps two writers from deadlocking.
 * Setting `max_*` is that first lock for creates and replaces, so the quota triggers check the
 * tenant's current plan in the write's own transaction.
 */
const setStorageLimits = (tx: PgShardTx, tenantId: string, limits: StorageLimits) =>
  tx
    .update(shardTenants)
    .set({ maxEntries: limits.maxEntries, maxStoredBytes: limits.maxStorageBytes })
    .where(eq(shardTenants.tenantId, tenantId));

export const lockUsage = (tx: PgShardTx, tenantId: string) =>
  tx
    .select({ tenantId: shardTenants.tenantId })
    .from(shardTenants)
    .where(eq(shardTenants.tenantId, tenantId))
    .for("update");

export const entriesOnPg = (db: PgShardDb) =>
  entryStatements(
    db,
    { entries, entryTags },
    {
      withLimits: (tenantId, limits, write) =>
        db.transaction(async (tx) => {
          await setStorageLimits(tx, tenantId, limits);
          return write(tx);
        }),
      withUsage: (tenantId, write) =>
        db.transaction(async (tx) => {
          await lockUsage(tx, tenantId);
          return write(tx);
        }),
    },
  );
