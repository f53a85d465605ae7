import { and, asc, eq, getTableColumns, inArray, notExists } from "drizzle-orm";
import type { ShardDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import { chunksOf, overwriteEntry } from "../db/sql";
import { retryRead } from "../gate/retry";
import { notFound } from "../http/problems";
import type { EntryInput, EntryVersion, Precondition, StorageLimits } from "../shards/store";
import { shardTenants } from "../shards/tenant-table";
import { entryPredicates } from "./predicates";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically } from "./rules";
import { type Entry, entries, entryTags } from "./table";

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

export async function getEntry(db: ShardDb, tenantId: string, entryId: string): Promise<Entry> {
  const row = await retryRead(() => db.query.entries.findFirst({ where: where.entry(tenantId, entryId) }));
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

/** Newest first, keyset-paginated on the id (ULIDs sort by creation time). */
export async function listEntries(
  db: ShardDb,
  tenantId: string,
  filter: { tag?: string },
  page: { limit: number; after?: string },
) {
  return retryRead(() => listPage(db, tenantId, filter, page));
}

async function listPage(db: ShardDb, tenantId: string, filter: { tag?: string }, page: PageRequest) {
  // With a tag, walk the tag index in id order and join each entry: one query whatever the page
  // size (an id list would pass D1's 100 bound parameters at limit 100).
  const keyset = newestFirst(filter.tag === undefined ? entries.id : entryTags.entryId, page);
  const rows: Entry[] =
    filter.tag === undefined
      ? await db
          .select()
          .from(entries)
          .where(and(eq(entries.tenantId, tenantId), keyset.after))
          .orderBy(keyset.order)
          .limit(keyset.limit)
      : await db
          .select(getTableColumns(entries))
          .from(entryTags)
          .innerJoin(entries, where.tagOfEntry)
          .where(and(eq(entryTags.tenantId, tenantId), eq(entryTags.tag, filter.tag), keyset.after))
          .orderBy(keyset.order)
          .limit(keyset.limit);
  return keyset.page(rows);
}

// Tenant moves (src/moves): a tenant's rows whole, in ascending id order, written back as they were.

/** D1 binds at most 100 parameters per statement; a chunk of ids leaves room for the tenant id. */
const IDS_PER_STATEMENT = 90;

/** Up to `limit` whole entries with id > `after` (null: from the start), ascending by id. */
export function exportEntries(db: ShardDb, tenantId: string, after: string | null, limit: number): Promise<Entry[]> {
  return retryRead(() =>
    db.select().from(entries).where(where.from(tenantId, after)).orderBy(asc(entries.id)).limit(limit),
  );
}

/** The same walk as exportEntries, only ids and versions. */
export function entryVersions(
  db: ShardDb,
  tenantId: string,
  after: string | null,
  limit: number,
): Promise<EntryVersion[]> {
  return retryRead(() =>
    db
      .select({ id: entries.id, version: entries.version })
      .from(entries)
      .where(where.from(tenantId, after))
      .orderBy(asc(entries.id))
      .limit(limit),
  );
}

/** The entries among `ids` that exist, in any order. */
export async function readEntries(db: ShardDb, tenantId: string, ids: string[]): Promise<Entry[]> {
  const [first, ...rest] = chunksOf(ids, IDS_PER_STATEMENT).map((chunk) =>
    db.select().from(entries).where(where.among(tenantId, chunk)),
  );
  if (!first) return [];
  // One batch: one round trip, and every chunk read at the same point.
  const pages = await retryRead(() => db.batch([first, ...rest]));
  return pages.flat();
}

/**
 * Writes the rows exactly as given, inserting or overwriting, in one batch (one transaction).
 * Upserts set every column, so the tag and usage triggers (UPDATE OF tags / size_bytes) fire as
 * for any write; max_* are cleared first so a copy is never refused by a quota.
 */
export async function importEntries(db: ShardDb, tenantId: string, rows: Entry[]): Promise<void> {
  const upserts = rows.map((row) =>
    db
      .insert(entries)
      .values({ ...row, tenantId })
      .onConflictDoUpdate({
        target: [entries.tenantId, entries.id],
        set: overwriteEntry(entries),
      }),
  );
  await db.batch([
    db.update(shardTenants).set({ maxEntries: null, maxStoredBytes: null }).where(eq(shardTenants.tenantId, tenantId)),
    ...upserts,
  ]);
}

/** Deletes these entries (absent ones are ignored), in one batch. */
export async function removeEntries(db: ShardDb, tenantId: string, ids: string[]): Promise<void> {
  const [first, ...rest] = chunksOf(ids, IDS_PER_STATEMENT).map((chunk) =>
    db.delete(entries).where(where.among(tenantId, chunk)),
  );
  if (first) await db.batch([first, ...rest]);
}

/**
 * Deletes up to `limit` of the tenant's entries and returns how many went. The same batch drops
 * the shard_tenants row once no entry is left, so 0 means the shard holds nothing of the tenant.
 */
export async function purgeTenant(db: ShardDb, tenantId: string, limit: number): Promise<number> {
  const [deleted] = await db.batch([
    db
      .delete(entries)
      .where(
        and(
          eq(entries.tenantId, tenantId),
          inArray(
            entries.id,
            db.select({ id: entries.id }).from(entries).where(eq(entries.tenantId, tenantId)).limit(limit),
          ),
        ),
      )
      .returning({ id: entries.id }),
    db
      .delete(shardTenants)
      .where(
        and(
          eq(shardTenants.tenantId, tenantId),
          notExists(db.select({ id: entries.id }).from(entries).where(eq(entries.tenantId, tenantId))),
        ),
      ),
  ]);
  return deleted.length;
}
