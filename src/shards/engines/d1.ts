import { and, count, eq, notExists, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { TableDataset } from "../../datasets/dataset";
import { datasetsIn } from "../../datasets/registry";
import type { ShardDb } from "../../db/client";
import { chunksOf, overwrite } from "../../db/sql";
import { retryRead } from "../../gate/retry";
import type { TenantStorage } from "../store";
import { shardTenants } from "../tenant-table";
import { type DatasetRow, parts, primaryKeyOf, type RowVersion } from "./rows";

// The shard's own statements on D1: the tenant's registration and usage, and every dataset's rows
// walked, read, written and deleted exactly (moves; export and restore later). A write is one
// batch, which D1 runs as one transaction.

/** D1 binds at most 100 parameters per statement; a chunk of keys leaves room for the tenant id. */
const KEYS_PER_STATEMENT = 90;

type Batch = [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];

export function d1Shard(db: ShardDb) {
  const on = (dataset: TableDataset, tenantId: string) => parts(dataset, "sqlite", tenantId);
  return {
    async registerTenant(tenantId: string, now = Date.now()) {
      await db.insert(shardTenants).values({ tenantId, provisionedAt: now }).onConflictDoNothing();
    },

    async storageOf(tenantId: string): Promise<TenantStorage | null> {
      const row = await db.query.shardTenants.findFirst({ where: eq(shardTenants.tenantId, tenantId) });
      return row
        ? {
            entryCount: row.entryCount,
            storedBytes: row.storedBytes,
            maxEntries: row.maxEntries,
            maxStoredBytes: row.maxStoredBytes,
          }
        : null;
    },

    async totals() {
      const [row] = await db
        .select({
          tenants: count(),
          entryCount: sql<number>`coalesce(sum(${shardTenants.entryCount}), 0)`,
          storedBytes: sql<number>`coalesce(sum(${shardTenants.storedBytes}), 0)`,
        })
        .from(shardTenants);
      return {
        tenants: Number(row?.tenants ?? 0),
        entryCount: Number(row?.entryCount ?? 0),
        storedBytes: Number(row?.storedBytes ?? 0),
      };
    },

    rows<D extends TableDataset>(dataset: D, tenantId: string, after: string | null, limit: number) {
      const t = on(dataset, tenantId);
      return retryRead(
        () => db.select().from(t.table).where(t.from(after)).orderBy(t.order).limit(limit) as Promise<DatasetRow<D>[]>,
      );
    },

    versions(dataset: TableDataset, tenantId: string, after: string | null, limit: number): Promise<RowVersion[]> {
      const t = on(dataset, tenantId);
      return retryRead(() =>
        db.select(t.versionColumns).from(t.table).where(t.from(after)).orderBy(t.order).limit(limit),
      );
    },

    async countRows(dataset: TableDataset, tenantId: string): Promise<number> {
      const t = on(dataset, tenantId);
      const [row] = await retryRead(() => db.select({ rows: count() }).from(t.table).where(t.owned));
      return row?.rows ?? 0;
    },

    /** The rows among `keys` that exist, in any order; one batch, so every chunk reads one moment. */
    async readRows<D extends TableDataset>(dataset: D, tenantId: string, keys: string[]): Promise<DatasetRow<D>[]> {
      const t = on(dataset, tenantId);
      const reads = chunksOf(keys, KEYS_PER_STATEMENT).map((chunk) => db.select().from(t.table).where(t.among(chunk)));
      if (reads.length === 0) return [];
      const pages = await retryRead(() => db.batch(reads as unknown as Batch));
      return (pages as DatasetRow<D>[][]).flat();
    },

    /**
     * Writes the rows exactly as given, inserting or overwriting, in one batch. Upserts set every
     * column, so the shard's triggers (tags, usage) fire as for any write; the tenant's max_* are
     * cleared first so a copy is never refused by a quota (the next API write sets them again).
     */
    async importRows(dataset: TableDataset, tenantId: string, rows: Record<string, unknown>[]) {
      const t = on(dataset, tenantId);
      const key = primaryKeyOf(t.table, "sqlite");
      const set = overwrite(t.table, key);
      const upserts = rows.map((row) => db.insert(t.table).values(t.own(row)).onConflictDoUpdate({ target: key, set }));
      await db.batch([
        db
          .update(shardTenants)
          .set({ maxEntries: null, maxStoredBytes: null })
          .where(eq(shardTenants.tenantId, tenantId)),
        ...upserts,
      ]);
    },

    /** Deletes these rows (absent ones are ignored), in one batch. */
    async removeRows(dataset: TableDataset, tenantId: string, keys: string[]) {
      const t = on(dataset, tenantId);
      const deletes = chunksOf(keys, KEYS_PER_STATEMENT).map((chunk) => db.delete(t.table).where(t.among(chunk)));
      if (deletes.length > 0) await db.batch(deletes as unknown as Batch);
    },

    /**
     * Deletes up to `limit` rows of each of the tenant's datasets and returns how many went. The
     * same batch drops the registration once no row is left, so 0 means the shard holds nothing of it.
     */
    async purgeTenant(tenantId: string, limit: number): Promise<number> {
      const datasets = datasetsIn("shard").map((dataset) => on(dataset, tenantId));
      const deletes = datasets.map((t) =>
        db
          .delete(t.table)
          .where(t.among(db.select({ key: t.keyColumn }).from(t.table).where(t.owned).limit(limit)))
          .returning({ key: t.keyColumn }),
      );
      const unregister = db
        .delete(shardTenants)
        .where(
          and(
            eq(shardTenants.tenantId, tenantId),
            ...datasets.map((t) => notExists(db.select({ key: t.keyColumn }).from(t.table).where(t.owned))),
          ),
        );
      const results = await db.batch([...deletes, unregister] as unknown as Batch);
      return (results.slice(0, deletes.length) as unknown[][]).reduce((sum, deleted) => sum + deleted.length, 0);
    },
  };
}
