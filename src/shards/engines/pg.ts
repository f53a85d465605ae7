import { and, count, eq, getTableColumns, notExists, sql } from "drizzle-orm";
import type { TableDataset } from "../../datasets/dataset";
import { datasetsIn } from "../../datasets/registry";
import type { PgShardDb } from "../../db/client";
import { chunksOf, overwrite } from "../../db/sql";
import { lockUsage } from "../../entries/engines/pg";
import { retryRead } from "../../gate/retry";
import type { TenantStorage } from "../store";
import { pgShardTenants as shardTenants } from "../tenant-table";
import { type DatasetRow, parts, primaryKeyOf, type RowVersion } from "./rows";

// The shard's own statements on PostgreSQL: the tenant's registration and usage, and every
// dataset's rows walked, read, written and deleted exactly. A write is one transaction that
// locks the tenant's usage row first, as every write does (src/entries/engines/pg.ts).

/** Keys per IN list, and bound parameters per INSERT: well under PostgreSQL's 65535. */
const KEYS_PER_STATEMENT = 1000;
const PARAMETERS_PER_STATEMENT = 4000;

export function pgShard(db: PgShardDb) {
  const on = (dataset: TableDataset, tenantId: string) => parts(dataset, "pg", tenantId);
  return {
    async registerTenant(tenantId: string, now = Date.now()) {
      await db.insert(shardTenants).values({ tenantId, provisionedAt: now }).onConflictDoNothing();
    },

    async storageOf(tenantId: string): Promise<TenantStorage | null> {
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
    },

    async totals() {
      // count and sum come back as int8/numeric, which node-postgres hands over as strings.
      const [row] = await retryRead(() =>
        db
          .select({
            tenants: count(),
            entryCount: sql<string>`coalesce(sum(${shardTenants.entryCount}), 0)`,
            storedBytes: sql<string>`coalesce(sum(${shardTenants.storedBytes}), 0)`,
          })
          .from(shardTenants),
      );
      return {
        tenants: Number(row?.tenants ?? 0),
        entryCount: Number(row?.entryCount ?? 0),
        storedBytes: Number(row?.storedBytes ?? 0),
      };
    },

    /** Ascending by key; text keys compare bytewise (COLLATE "C"), as on D1. */
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

    async readRows<D extends TableDataset>(dataset: D, tenantId: string, keys: string[]): Promise<DatasetRow<D>[]> {
      const t = on(dataset, tenantId);
      const found: DatasetRow<D>[] = [];
      for (const chunk of chunksOf(keys, KEYS_PER_STATEMENT)) {
        found.push(...((await retryRead(() => db.select().from(t.table).where(t.among(chunk)))) as DatasetRow<D>[]));
      }
      return found;
    },

    /**
     * Writes the rows as given in one transaction. Clearing max_* is its first lock on the usage
     * row, and lets the quota triggers pass the copy; upserts set every column, so the triggers
     * fire as for any write.
     */
    async importRows(dataset: TableDataset, tenantId: string, rows: Record<string, unknown>[]) {
      const t = on(dataset, tenantId);
      const key = primaryKeyOf(t.table, "pg");
      const set = overwrite(t.table, key);
      // One statement may not upsert a row twice; the last copy of a key wins, as on D1.
      const unique = [...new Map(rows.map((row) => [row[t.key], t.own(row)])).values()];
      const perStatement = Math.floor(PARAMETERS_PER_STATEMENT / Object.keys(getTableColumns(t.table)).length);
      await db.transaction(async (tx) => {
        await tx
          .update(shardTenants)
          .set({ maxEntries: null, maxStoredBytes: null })
          .where(eq(shardTenants.tenantId, tenantId));
        for (const chunk of chunksOf(unique, perStatement)) {
          await tx.insert(t.table).values(chunk).onConflictDoUpdate({ target: key, set });
        }
      });
    },

    async removeRows(dataset: TableDataset, tenantId: string, keys: string[]) {
      if (keys.length === 0) return;
      const t = on(dataset, tenantId);
      await db.transaction(async (tx) => {
        await lockUsage(tx, tenantId);
        for (const chunk of chunksOf(keys, KEYS_PER_STATEMENT)) await tx.delete(t.table).where(t.among(chunk));
      });
    },

    /**
     * Deletes up to `limit` rows of each of the tenant's datasets and returns how many went. The
     * same transaction drops the registration once no row is left, so 0 means the shard holds
     * nothing of it.
     */
    purgeTenant(tenantId: string, limit: number): Promise<number> {
      const datasets = datasetsIn("shard").map((dataset) => on(dataset, tenantId));
      return db.transaction(async (tx) => {
        await lockUsage(tx, tenantId);
        let deleted = 0;
        for (const t of datasets) {
          const gone = await tx
            .delete(t.table)
            .where(t.among(tx.select({ key: t.keyColumn }).from(t.table).where(t.owned).limit(limit)))
            .returning({ key: t.keyColumn });
          deleted += gone.length;
        }
        await tx
          .delete(shardTenants)
          .where(
            and(
              eq(shardTenants.tenantId, tenantId),
              ...datasets.map((t) => notExists(tx.select({ key: t.keyColumn }).from(t.table).where(t.owned))),
            ),
          );
        return deleted;
      });
    },
  };
}
