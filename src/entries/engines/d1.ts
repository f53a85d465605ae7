import { eq } from "drizzle-orm";
import type { ShardDb } from "../../db/client";
import type { PageRequest } from "../../db/keyset";
import type { EntryInput, Precondition, StorageLimits } from "../../shards/store";
import { shardTenants } from "../../shards/tenant-table";
import { entryPredicates } from "../predicates";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically } from "../rules";
import { type Entry, entries, entryTags } from "../table";
import { entryReads } from "./reads";

// The entries' writes on a D1 shard. Each write is one batch (D1's transaction), which also
// sets the tenant's storage limits that the shard's triggers enforce. The reads are in ./reads.ts.

const where = entryPredicates(entries, entryTags);

/** The shard's triggers refuse a write past these; they are set in the write's own transaction. */
const setStorageLimits = (db: ShardDb, tenantId: string, limits: StorageLimits) =>
  db
    .update(shardTenants)
    .set({ maxEntries: limits.maxEntries, maxStoredBytes: limits.maxStorageBytes })
    .where(eq(shardTenants.tenantId, tenantId));

export async function createEntry(
  db: ShardDb,
  tenantId: string,
  input: EntryInput,
  limits: StorageLimits,
  now = Date.now(),
): Promise<Entry> {
  try {
    const [, inserted] = await db.batch([
      setStorageLimits(db, tenantId, limits),
      db
        .insert(entries)
        .values(newEntryRow(tenantId, input, now))
        .returning(),
    ]);
    return inserted[0] as Entry;
  } catch (error) {
    throw quotaError(error, limits);
  }
}

/** One entry of the tenant; 404 if it has none of that id. */
export const getEntry = (db: ShardDb, tenantId: string, entryId: string) =>
  entryReads(db, { entries, entryTags }).getEntry(tenantId, entryId);

/**
 * Replaces data and tags. The UPDATE itself carries the version it read, so two writers that both
 * read version N cannot both succeed; a loser with no If-Match (or `*`) simply tries again.
 */
export async function replaceEntry(
  db: ShardDb,
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
        const [, [row]] = await db.batch([
          setStorageLimits(db, tenantId, limits),
          db
            .update(entries)
            .set(replacementOf(input, current.version, now))
            .where(where.entry(tenantId, entryId, current.version))
            .returning(),
        ]);
        return row;
      } catch (error) {
        throw quotaError(error, limits);
      }
    },
    precondition,
  );
}

export function deleteEntry(db: ShardDb, tenantId: string, entryId: string, precondition: Precondition) {
  return deleteChecked(
    () => getEntry(db, tenantId, entryId),
    async (current, conditional) => {
      const deleted = await db
        .delete(entries)
        .where(where.entry(tenantId, entryId, conditional ? current.version : undefined))
        .returning({ id: entries.id });
      return deleted.length;
    },
    precondition,
  );
}

/** Newest first, keyset-paginated on the id, optionally through the tag index. */
export const listEntries = (db: ShardDb, tenantId: string, filter: { tag?: string }, page: PageRequest) =>
  entryReads(db, { entries, entryTags }).listEntries(tenantId, filter, page);
