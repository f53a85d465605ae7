import { eq } from "drizzle-orm";
import type { PgShardDb, PgShardTx } from "../../db/client";
import type { PageRequest } from "../../db/keyset";
import type { EntryInput, Precondition, StorageLimits } from "../../shards/store";
import { pgShardTenants as shardTenants } from "../../shards/tenant-table";
import { entryPredicates } from "../predicates";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically } from "../rules";
import { type Entry, pgEntries as entries, pgEntryTags as entryTags } from "../table";
import { entryReads } from "./reads";

// The entries' writes on a PostgreSQL shard. Each write is one transaction on the store's
// connection, which also sets the tenant's storage limits that the shard's triggers enforce.
// The reads are in ./reads.ts.

const where = entryPredicates(entries, entryTags);

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

export async function createEntry(
  db: PgShardDb,
  tenantId: string,
  input: EntryInput,
  limits: StorageLimits,
  now = Date.now(),
): Promise<Entry> {
  try {
    return await db.transaction(async (tx) => {
      await setStorageLimits(tx, tenantId, limits);
      const [row] = await tx
        .insert(entries)
        .values(newEntryRow(tenantId, input, now))
        .returning();
      return row as Entry;
    });
  } catch (error) {
    throw quotaError(error, limits);
  }
}

/** One entry of the tenant; 404 if it has none of that id. */
export const getEntry = (db: PgShardDb, tenantId: string, entryId: string) =>
  entryReads(db, { entries, entryTags }).getEntry(tenantId, entryId);

/**
 * Replaces data and tags. The UPDATE itself carries the version it read, so two writers that both
 * read version N cannot both succeed; a loser with no If-Match (or `*`) simply tries again.
 */
export async function replaceEntry(
  db: PgShardDb,
  tenantId: string,
  entryId: string,
  input: EntryInput,
  precondition: Precondition,
  limits: StorageLimits,
  now = Date.now(),
): Promise<Entry> {
  return replaceOptimistically(
    () => getEntry(db, tenantId, entryId),
    async (current) => {
      try {
        return await db.transaction(async (tx) => {
          await setStorageLimits(tx, tenantId, limits);
          const [updated] = await tx
            .update(entries)
            .set(replacementOf(input, current.version, now))
            .where(where.entry(tenantId, entryId, current.version))
            .returning();
          return updated;
        });
      } catch (error) {
        throw quotaError(error, limits);
      }
    },
    precondition,
  );
}

export function deleteEntry(db: PgShardDb, tenantId: string, entryId: string, precondition: Precondition) {
  return deleteChecked(
    () => getEntry(db, tenantId, entryId),
    async (current, conditional) => {
      const deleted = await db.transaction(async (tx) => {
        await lockUsage(tx, tenantId);
        return tx
          .delete(entries)
          .where(where.entry(tenantId, entryId, conditional ? current.version : undefined))
          .returning({ id: entries.id });
      });
      return deleted.length;
    },
    precondition,
  );
}

/** Newest first, keyset-paginated on the id, optionally through the tag index. */
export const listEntries = (db: PgShardDb, tenantId: string, filter: { tag?: string }, page: PageRequest) =>
  entryReads(db, { entries, entryTags }).listEntries(tenantId, filter, page);
