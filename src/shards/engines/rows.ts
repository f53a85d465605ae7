import { type AnyColumn, and, asc, count, eq, getTableColumns, gt, inArray, type SQL, sql } from "drizzle-orm";
import { getTableConfig as pgTableConfig } from "drizzle-orm/pg-core";
import { type SQLiteTable, getTableConfig as sqliteTableConfig } from "drizzle-orm/sqlite-core";
import {
  type DatasetRow,
  keyColumnOf,
  numericKey,
  ownedBy,
  type RowVersion,
  type TableDataset,
} from "../../datasets/dataset";
import { retryRead } from "../../gate/retry";
import type { TenantStorage } from "../store";

// The shard statements both engines spell and run alike (reads), and what every dataset statement
// needs from a declaration: the table, its key, the tenant's rows. Only how writes are batched,
// chunked and made atomic differs by engine (./d1.ts, ./pg.ts).

export type Engine = "sqlite" | "pg";

export function tableOf(dataset: TableDataset, engine: Engine): any {
  const table = engine === "sqlite" ? dataset.tables.sqlite : dataset.tables.pg;
  if (!table) throw new Error(`dataset ${dataset.name} has no ${engine} table`);
  return table;
}

/** The table's primary key columns, an upsert's conflict target. */
export function primaryKeyOf(table: any, engine: Engine): any[] {
  const config = engine === "sqlite" ? sqliteTableConfig(table as SQLiteTable) : pgTableConfig(table);
  const composite = config.primaryKeys[0]?.columns;
  if (composite) return composite;
  return Object.values(getTableColumns(table) as Record<string, AnyColumn>).filter((column) => column.primary);
}

/** The statements' parts for one dataset on one engine. */
export function parts(dataset: TableDataset, engine: Engine, tenantId: string) {
  const table = tableOf(dataset, engine);
  const key = keyColumnOf(dataset);
  // Either engine's column: the statements built on it are the same on both.
  const keyColumn = table[key];
  const owned = ownedBy(dataset, table, tenantId);
  // Keys travel as text (copy positions, diffs); a numeric key column compares them as numbers.
  const typed = numericKey(dataset) ? Number : String;
  return {
    table,
    key,
    keyColumn,
    owned,
    /** The tenant's rows after `after` (null: from the first). */
    from: (after: string | null): SQL | undefined =>
      and(owned, after === null ? undefined : gt(keyColumn, typed(after))),
    /** The tenant's rows among these keys, or among the keys a subquery selects. */
    among: (keys: Parameters<typeof inArray>[1]): SQL | undefined =>
      and(owned, inArray(keyColumn, Array.isArray(keys) ? keys.map((key) => typed(key)) : keys)),
    order: asc(keyColumn),
    /** The columns a versions walk selects: the key, and the version when the dataset has one. */
    versionColumns: {
      [key]: keyColumn,
      ...(dataset.version === undefined ? {} : { [dataset.version]: table[dataset.version] }),
    } as Record<string, any>,
    /** The row as written: every column as given, the tenant column set to this tenant. */
    own: (row: Record<string, unknown>) =>
      dataset.tenantKey === undefined ? row : { ...row, [dataset.tenantKey]: tenantId },
  };
}

/** Either engine's drizzle client, for the statements both run alike (typed by the callers). */
type AnyShardDb = { select: (...fields: any[]) => any; insert: (table: any) => any };

/**
 * The reads of the shard's registration and of any dataset, the same statements on both engines.
 * Counts and sums come back from PostgreSQL as strings (int8/numeric), hence the Number()s.
 */
export function shardReads(db: AnyShardDb, engine: Engine, registrations: any) {
  const on = (dataset: TableDataset, tenantId: string) => parts(dataset, engine, tenantId);
  const t = registrations;
  return {
    async registerTenant(tenantId: string, now = Date.now()): Promise<void> {
      await db.insert(t).values({ tenantId, provisionedAt: now }).onConflictDoNothing();
    },

    async storageOf(tenantId: string): Promise<TenantStorage | null> {
      const [row] = await retryRead<TenantStorage[]>(() =>
        db
          .select({
            entryCount: t.entryCount,
            storedBytes: t.storedBytes,
            maxEntries: t.maxEntries,
            maxStoredBytes: t.maxStoredBytes,
          })
          .from(t)
          .where(eq(t.tenantId, tenantId)),
      );
      return row ?? null;
    },

    async totals() {
      const [row] = await retryRead<{ tenants: unknown; entryCount: unknown; storedBytes: unknown }[]>(() =>
        db
          .select({
            tenants: count(),
            entryCount: sql`coalesce(sum(${t.entryCount}), 0)`,
            storedBytes: sql`coalesce(sum(${t.storedBytes}), 0)`,
          })
          .from(t),
      );
      return {
        tenants: Number(row?.tenants ?? 0),
        entryCount: Number(row?.entryCount ?? 0),
        storedBytes: Number(row?.storedBytes ?? 0),
      };
    },

    /** Ascending by key; text keys compare bytewise on both engines (COLLATE "C" on PostgreSQL). */
    rows<D extends TableDataset>(dataset: D, tenantId: string, after: string | null, limit: number) {
      const d = on(dataset, tenantId);
      return retryRead<DatasetRow<D>[]>(() =>
        db.select().from(d.table).where(d.from(after)).orderBy(d.order).limit(limit),
      );
    },

    versions(dataset: TableDataset, tenantId: string, after: string | null, limit: number): Promise<RowVersion[]> {
      const d = on(dataset, tenantId);
      return retryRead(() =>
        db.select(d.versionColumns).from(d.table).where(d.from(after)).orderBy(d.order).limit(limit),
      );
    },

    async keyRange(dataset: TableDataset, tenantId: string): Promise<{ first: string; last: string } | null> {
      const d = on(dataset, tenantId);
      const [row] = await retryRead<{ first: unknown; last: unknown }[]>(() =>
        db
          .select({ first: sql`min(${d.keyColumn})`, last: sql`max(${d.keyColumn})` })
          .from(d.table)
          .where(d.owned),
      );
      if (row?.first === null || row?.first === undefined) return null;
      return { first: String(row.first), last: String(row.last) };
    },

    async countRows(dataset: TableDataset, tenantId: string): Promise<number> {
      // Any dataset, derived ones (several key columns) too: a purge's check walks them all.
      const table = tableOf(dataset, engine);
      const [row] = await retryRead<{ rows: unknown }[]>(() =>
        db
          .select({ rows: count() })
          .from(table)
          .where(ownedBy(dataset, table, tenantId)),
      );
      return Number(row?.rows ?? 0);
    },
  };
}
