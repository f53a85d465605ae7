import { and, desc, eq, inArray, lt } from "drizzle-orm";
import { retryRead } from "../gate/retry";
import { notFound } from "../http/problems";
import type { ShardDb } from "../shards/d1-store";
import type { EntryInput, Precondition, StorageLimits } from "../shards/store";
import { shardTenants } from "../shards/tenant-schema";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically, toPage } from "./rules";
import { type Entry, entries, entryTags } from "./schema";

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

export async function getEntry(db: ShardDb, tenantId: string, entryId: string): Promise<Entry> {
  const row = await retryRead(() =>
    db.query.entries.findFirst({ where: and(eq(entries.tenantId, tenantId), eq(entries.id, entryId)) }),
  );
  if (!row) throw notFound("Entry");
  return row;
}

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
            .where(and(eq(entries.tenantId, tenantId), eq(entries.id, entryId), eq(entries.version, current.version)))
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
        .where(
          and(
            eq(entries.tenantId, tenantId),
            eq(entries.id, entryId),
            conditional ? eq(entries.version, current.version) : undefined,
          ),
        )
        .returning({ id: entries.id });
      return deleted.length;
    },
    precondition,
  );
}

/** Newest first, keyset-paginated on the id (ULIDs sort by creation time). */
export async function listEntries(
  db: ShardDb,
  tenantId: string,
  filter: { tag?: string },
  page: { limit: number; after?: string },
) {
  return retryRead(() => listPage(db, tenantId, filter, page));
}

async function listPage(
  db: ShardDb,
  tenantId: string,
  filter: { tag?: string },
  page: { limit: number; after?: string },
) {
  let rows: Entry[];
  if (filter.tag === undefined) {
    rows = await db
      .select()
      .from(entries)
      .where(and(eq(entries.tenantId, tenantId), page.after ? lt(entries.id, page.after) : undefined))
      .orderBy(desc(entries.id))
      .limit(page.limit + 1);
  } else {
    // Walk the tag index in id order, then fetch those entries.
    const ids = await db
      .select({ id: entryTags.entryId })
      .from(entryTags)
      .where(
        and(
          eq(entryTags.tenantId, tenantId),
          eq(entryTags.tag, filter.tag),
          page.after ? lt(entryTags.entryId, page.after) : undefined,
        ),
      )
      .orderBy(desc(entryTags.entryId))
      .limit(page.limit + 1);
    rows =
      ids.length === 0
        ? []
        : await db
            .select()
            .from(entries)
            .where(
              and(
                eq(entries.tenantId, tenantId),
                inArray(
                  entries.id,
                  ids.map((r) => r.id),
                ),
              ),
            )
            .orderBy(desc(entries.id));
  }
  return toPage(rows, page.limit);
}
