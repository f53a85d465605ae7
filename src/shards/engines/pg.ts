import { and, eq, getTableColumns, notExists } from "drizzle-orm";
import type { DatasetRow, TableDataset } from "../../datasets/dataset";
import { datasetsIn } from "../../datasets/registry";
import type { PgShardDb } from "../../db/client";
import { chunksOf, overwrite } from "../../db/sql";
import { lockUsage } from "../../entries/engines/pg";
import { eventRow } from "../../events/event";
import { pgEvents } from "../../events/table";
import { retryRead } from "../../gate/retry";
import type { AnnouncedChanges } from "../store";
import { pgShardTenants as shardTenants } from "../tenant-table";
import { parts, primaryKeyOf, shardReads } from "./rows";

// The shard's statements on PostgreSQL that differ from D1's: every dataset's rows read by key,
// written and deleted exactly, each write one transaction that locks the tenant's usage row first,
// as every write does (src/entries/engines/pg.ts). The reads are in ./rows.ts.

/** Keys per IN list, and bound parameters per INSERT: well under PostgreSQL's 65535. */
const KEYS_PER_STATEMENT = 1000;
const PARAMETERS_PER_STATEMENT = 4000;

export function pgShard(db: PgShardDb) {
  const on = (dataset: TableDataset, tenantId: string) => parts(dataset, "pg", tenantId);
  return {
    ...shardReads(db, "pg", shardTenants),

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

    /** Upserts `rows` and deletes `removes` with the events announcing them, in one transaction. */
    async applyChanges(dataset: TableDataset, tenantId: string, changes: AnnouncedChanges) {
      const t = on(dataset, tenantId);
      const key = primaryKeyOf(t.table, "pg");
      const set = overwrite(t.table, key);
      const perStatement = Math.floor(PARAMETERS_PER_STATEMENT / Object.keys(getTableColumns(t.table)).length);
      await db.transaction(async (tx) => {
        await tx
          .update(shardTenants)
          .set({ maxEntries: null, maxStoredBytes: null })
          .where(eq(shardTenants.tenantId, tenantId));
        for (const chunk of chunksOf(changes.rows.map(t.own), perStatement)) {
          await tx.insert(t.table).values(chunk).onConflictDoUpdate({ target: key, set });
        }
        for (const chunk of chunksOf(changes.removes, KEYS_PER_STATEMENT))
          await tx.delete(t.table).where(t.among(chunk));
        for (const event of changes.events) {
          await tx.insert(pgEvents).values(eventRow(pgEvents, tenantId, event, changes.origin, changes.at));
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
