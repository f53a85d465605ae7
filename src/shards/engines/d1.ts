import { and, eq, notExists } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { DatasetRow, TableDataset } from "../../datasets/dataset";
import { datasetsIn } from "../../datasets/registry";
import type { ShardDb } from "../../db/client";
import { chunksOf, overwrite } from "../../db/sql";
import { eventRow } from "../../events/event";
import { events } from "../../events/table";
import { retryRead } from "../../gate/retry";
import type { AnnouncedChanges } from "../store";
import { shardTenants } from "../tenant-table";
import { parts, primaryKeyOf, shardReads } from "./rows";

// The shard's statements on D1 that differ from PostgreSQL's: every dataset's rows read by key,
// written and deleted exactly (moves; export and restore later), each write one batch, which D1
// runs as one transaction, chunked to D1's 100 bound parameters. The reads are in ./rows.ts.

/** D1 binds at most 100 parameters per statement; a chunk of keys leaves room for the tenant id. */
const KEYS_PER_STATEMENT = 90;

type Batch = [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]];

export function d1Shard(db: ShardDb) {
  const on = (dataset: TableDataset, tenantId: string) => parts(dataset, "sqlite", tenantId);
  return {
    ...shardReads(db, "sqlite", shardTenants),

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

    /** Upserts `rows` and deletes `removes` with the events announcing them, in one batch. */
    async applyChanges(dataset: TableDataset, tenantId: string, changes: AnnouncedChanges) {
      const t = on(dataset, tenantId);
      const key = primaryKeyOf(t.table, "sqlite");
      const set = overwrite(t.table, key);
      const { origin, at } = changes;
      await db.batch([
        db
          .update(shardTenants)
          .set({ maxEntries: null, maxStoredBytes: null })
          .where(eq(shardTenants.tenantId, tenantId)),
        ...changes.rows.map((row) => db.insert(t.table).values(t.own(row)).onConflictDoUpdate({ target: key, set })),
        ...chunksOf(changes.removes, KEYS_PER_STATEMENT).map((chunk) => db.delete(t.table).where(t.among(chunk))),
        ...changes.events.map((event) => db.insert(events).values(eventRow(events, tenantId, event, origin, at))),
      ] as unknown as Batch);
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
