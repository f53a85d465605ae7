import { and, asc, count, eq, getTableColumns, inArray, notExists, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import { newestFirst, type PageRequest } from "../db/keyset";
import * as shardPgSchema from "../db/shard-pg-tables";
import { chunksOf, overwriteEntry } from "../db/sql";
import { entries, entryTags } from "../entries/pg-table";
import { entryPredicates } from "../entries/predicates";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically } from "../entries/rules";
import type { Entry } from "../entries/table";
import { retryRead } from "../gate/retry";
import { notFound } from "../http/problems";
import { shardTenants } from "./pg-tenant-table";
import { pgRefusal } from "./refusals";
import type { EntryInput, EntryPage, EntryVersion, Precondition, ShardStore, StorageLimits } from "./store";

const where = entryPredicates(entries, entryTags);

export type PgShardDb = NodePgDatabase<typeof shardPgSchema>;
type PgShardTx = Parameters<Parameters<PgShardDb["transaction"]>[0]>[0];

/**
 * Connects one node-postgres client for the current request only: workerd refuses I/O on a socket
 * opened by another request, so a client is never shared or pooled here (Hyperdrive pools).
 */
export async function connectPg(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  // Required in workerd: end() closes the socket under a pending read, which pg re-emits as an
  // 'error' event, and an EventEmitter without a listener turns it into an unhandled rejection.
  // Failures of queries still reach their callers as rejections.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * The PostgreSQL engine of the data plane: a shard reached through a Hyperdrive connection string,
 * with the same semantics as the D1 engine (src/entries/service.ts). The shard must be migrated
 * (src/shards/pg-migrate.ts). The caller closes the store, which ends its connection.
 */
export async function openPgShard(connectionString: string): Promise<ShardStore> {
  const client = await connectPg(connectionString);
  const db: PgShardDb = drizzle(client, { schema: shardPgSchema });
  const serial = oneAtATime();
  // A statement refused for its values is the request's answer, not the shard failing.
  const one = <T>(run: () => Promise<T>): Promise<T> =>
    serial(run).catch((error: unknown) => {
      throw pgRefusal(error);
    });
  return {
    engine: "postgres",
    createEntry: (tenantId, input, limits, now) => one(() => createEntry(db, tenantId, input, limits, now)),
    getEntry: (tenantId, entryId) => one(() => getEntry(db, tenantId, entryId)),
    listEntries: (tenantId, filter, page) => one(() => retryRead(() => listPage(db, tenantId, filter, page))),
    replaceEntry: (tenantId, entryId, input, precondition, limits, now) =>
      one(() => replaceEntry(db, tenantId, entryId, input, precondition, limits, now)),
    deleteEntry: (tenantId, entryId, precondition) => one(() => deleteEntry(db, tenantId, entryId, precondition)),
    registerTenant: (tenantId, now = Date.now()) =>
      one(async () => {
        await db.insert(shardTenants).values({ tenantId, provisionedAt: now }).onConflictDoNothing();
      }),
    storageOf: (tenantId) =>
      one(async () => {
        const [row] = await retryRead(() =>
          db
            .select({
              entryCount: shardTenants.entryCount,
              storedBytes: shardTenants.storedBytes,
              maxEntries: shardTenants.maxEntries,
              maxStoredBytes: shardTenants.maxStoredBytes,
            })
            .from(shardTenants)
            .where(eq(shardTenants.tenantId, tenantId)),
        );
        return row ?? null;
      }),
    totals: () => one(() => retryRead(() => totals(db))),
    exportEntries: (tenantId, after, limit) => one(() => retryRead(() => exportEntries(db, tenantId, after, limit))),
    entryVersions: (tenantId, after, limit) => one(() => retryRead(() => entryVersions(db, tenantId, after, limit))),
    readEntries: (tenantId, ids) => one(() => retryRead(() => readEntries(db, tenantId, ids))),
    importEntries: (tenantId, rows) => one(() => importEntries(db, tenantId, rows)),
    removeEntries: (tenantId, ids) => one(() => removeEntries(db, tenantId, ids)),
    purgeTenant: (tenantId, limit) => one(() => purgeTenant(db, tenantId, limit)),
    bookmark: () => null,
    close: () => serial(() => client.end()),
  };
}

/**
 * Runs the store's calls one after another: they share one connection, where two concurrent
 * transactions would interleave their statements (one's COMMIT committing the other's half).
 */
function oneAtATime() {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(run: () => Promise<T>): Promise<T> => {
    const result = last.then(run, run);
    last = result.catch(() => undefined);
    return result;
  };
}

async function totals(db: PgShardDb) {
  // count and sum come back as int8/numeric, which node-postgres hands over as strings.
  const [row] = await db
    .select({
      tenants: count(),
      entryCount: sql<string>`coalesce(sum(${shardTenants.entryCount}), 0)`,
      storedBytes: sql<string>`coalesce(sum(${shardTenants.storedBytes}), 0)`,
    })
    .from(shardTenants);
  return {
    tenants: Number(row?.tenants ?? 0),
    entryCount: Number(row?.entryCount ?? 0),
    storedBytes: Number(row?.storedBytes ?? 0),
  };
}

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

const lockUsage = (tx: PgShardTx, tenantId: string) =>
  tx
    .select({ tenantId: shardTenants.tenantId })
    .from(shardTenants)
    .where(eq(shardTenants.tenantId, tenantId))
    .for("update");

async function createEntry(
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

async function getEntry(db: PgShardDb, tenantId: string, entryId: string): Promise<Entry> {
  const [row] = await retryRead(() => db.select().from(entries).where(where.entry(tenantId, entryId)));
  if (!row) throw notFound("Entry");
  return row;
}

/**
 * Replaces data and tags. The UPDATE itself carries the version it read, so two writers that both
 * read version N cannot both succeed; a loser with no If-Match (or `*`) simply tries again.
 */
async function replaceEntry(
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

function deleteEntry(db: PgShardDb, tenantId: string, entryId: string, precondition: Precondition) {
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

/** Newest first, keyset-paginated on the id; ids compare bytewise (COLLATE "C"), as on D1. */
async function listPage(
  db: PgShardDb,
  tenantId: string,
  filter: { tag?: string },
  page: PageRequest,
): Promise<EntryPage> {
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

/** Rows per INSERT (8 parameters each) and ids per IN list: well under PostgreSQL's 65535 parameters. */
const ROWS_PER_STATEMENT = 500;
const IDS_PER_STATEMENT = 1000;

/** Ascending by id; ids compare bytewise (COLLATE "C"), as on D1. */
function exportEntries(db: PgShardDb, tenantId: string, after: string | null, limit: number): Promise<Entry[]> {
  return db.select().from(entries).where(where.from(tenantId, after)).orderBy(asc(entries.id)).limit(limit);
}

function entryVersions(db: PgShardDb, tenantId: string, after: string | null, limit: number): Promise<EntryVersion[]> {
  return db
    .select({ id: entries.id, version: entries.version })
    .from(entries)
    .where(where.from(tenantId, after))
    .orderBy(asc(entries.id))
    .limit(limit);
}

async function readEntries(db: PgShardDb, tenantId: string, ids: string[]): Promise<Entry[]> {
  const found: Entry[] = [];
  for (const chunk of chunksOf(ids, IDS_PER_STATEMENT)) {
    found.push(...(await db.select().from(entries).where(where.among(tenantId, chunk))));
  }
  return found;
}

/**
 * Writes the rows as given in one transaction. Clearing max_* is the transaction's first lock on
 * the usage row (the deadlock rule above), and means the quota triggers let the copy through.
 * Upserts set every column, so the tag and usage triggers fire as for any write.
 */
async function importEntries(db: PgShardDb, tenantId: string, rows: Entry[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(shardTenants)
      .set({ maxEntries: null, maxStoredBytes: null })
      .where(eq(shardTenants.tenantId, tenantId));
    // One statement may not upsert a row twice; the last copy of an id wins, as on D1.
    const unique = [...new Map(rows.map((row) => [row.id, row])).values()];
    for (const chunk of chunksOf(unique, ROWS_PER_STATEMENT)) {
      await tx
        .insert(entries)
        .values(chunk.map((row) => ({ ...row, tenantId })))
        .onConflictDoUpdate({
          target: [entries.tenantId, entries.id],
          set: overwriteEntry(entries),
        });
    }
  });
}

async function removeEntries(db: PgShardDb, tenantId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.transaction(async (tx) => {
    await lockUsage(tx, tenantId);
    for (const chunk of chunksOf(ids, IDS_PER_STATEMENT)) {
      await tx.delete(entries).where(where.among(tenantId, chunk));
    }
  });
}

/**
 * Deletes up to `limit` of the tenant's entries and returns how many went. The same transaction
 * drops the shard_tenants row once no entry is left, so 0 means the shard holds nothing of it.
 */
function purgeTenant(db: PgShardDb, tenantId: string, limit: number): Promise<number> {
  return db.transaction(async (tx) => {
    await lockUsage(tx, tenantId);
    const deleted = await tx
      .delete(entries)
      .where(
        and(
          eq(entries.tenantId, tenantId),
          inArray(
            entries.id,
            tx.select({ id: entries.id }).from(entries).where(eq(entries.tenantId, tenantId)).limit(limit),
          ),
        ),
      )
      .returning({ id: entries.id });
    await tx
      .delete(shardTenants)
      .where(
        and(
          eq(shardTenants.tenantId, tenantId),
          notExists(tx.select({ id: entries.id }).from(entries).where(eq(entries.tenantId, tenantId))),
        ),
      );
    return deleted.length;
  });
}
