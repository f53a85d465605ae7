import { eq } from "drizzle-orm";
import { pgAuditCheckpoints, pgAuditEvents } from "../../audit/table";
import type { PgShardDb, PgShardTx } from "../../db/client";
import type { Appended } from "../../events/change";
import { pgEvents } from "../../events/table";
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

/** The write, then its appended rows if it changed a row, on the transaction. */
async function writeThenAppend<T>(tx: PgShardTx, write: (q: any) => PromiseLike<T[]>, appended: Appended[]) {
  const rows = await write(tx);
  if (rows.length > 0) for (const { table, row } of appended) await tx.insert(table).values(row);
  return rows;
}

export const entriesOnPg = (db: PgShardDb) =>
  entryStatements(
    db,
    { entries, entryTags, events: pgEvents, auditEvents: pgAuditEvents, auditCheckpoints: pgAuditCheckpoints },
    {
      withLimits: (tenantId, limits, write, appended) =>
        db.transaction(async (tx) => {
          await setStorageLimits(tx, tenantId, limits);
          return writeThenAppend(tx, write, appended);
        }),
      withUsage: (tenantId, write, appended) =>
        db.transaction(async (tx) => {
          await lockUsage(tx, tenantId);
          return writeThenAppend(tx, write, appended);
        }),
    },
  );
