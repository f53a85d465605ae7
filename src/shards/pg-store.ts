import { and, count, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as shardPgSchema from "../db/shard-pg-schema";
import { entries, entryTags } from "../entries/pg-schema";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically, toPage } from "../entries/rules";
import type { Entry } from "../entries/schema";
import { retryRead } from "../gate/retry";
import { notFound } from "../http/problems";
import { shardTenants } from "./pg-tenant-schema";
import type { EntryInput, EntryPage, Precondition, ShardStore, StorageLimits } from "./store";

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
  const one = oneAtATime();
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
    bookmark: () => null,
    close: () => one(() => client.end()),
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
  const [row] = await retryRead(() =>
    db
      .select()
      .from(entries)
      .where(and(eq(entries.tenantId, tenantId), eq(entries.id, entryId))),
  );
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
            .where(and(eq(entries.tenantId, tenantId), eq(entries.id, entryId), eq(entries.version, current.version)))
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
          .where(
            and(
              eq(entries.tenantId, tenantId),
              eq(entries.id, entryId),
              conditional ? eq(entries.version, current.version) : undefined,
            ),
          )
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
  page: { limit: number; after?: string },
): Promise<EntryPage> {
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
