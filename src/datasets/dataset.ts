import { eq, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";

/** Where a tenant's data lives: the control database, the tenant's shard, or the tenant's gate. */
export type Home = "control" | "shard" | "gate";

/**
 * A table of tenant-owned rows. The generic operations (src/datasets/control.ts for the control
 * database, the shard stores for a shard) read and write it through this declaration alone.
 */
export type TableDataset = {
  name: string;
  home: Exclude<Home, "gate">;
  description: string;
  /** Its drizzle table on each engine of its home (the control database is D1, SQLite only). */
  tables: { sqlite: SQLiteTable; pg?: PgTable };
  /** The column key holding the tenant id (every row of the tenant has it). */
  tenantKey?: string;
  /**
   * The tenant's rows of `table` (either engine's: both have the same column keys), for a dataset
   * whose rows name their tenant only through another table; otherwise `tenantKey` says it.
   */
  owned?: (table: any, tenantId: string) => SQL;
  /** Column keys of a key unique among the tenant's rows: rows stream, page and diff in this order. */
  orderKey: readonly string[];
  /**
   * The column that changes on every write, which is all a diff between two copies compares.
   * Without one, rows never change once written (a diff compares which keys each copy holds).
   */
  version?: string;
  /**
   * Columns the relay fills in after the row is written (published_at, an audit record's link):
   * copied as they are, but left out of a move's diff and checksum, since the relay keeps setting
   * them on the source while the copy runs; a copy that lags only has the target's relay redo it.
   */
  bookkeeping?: readonly string[];
  /**
   * Rows are only ever added after the last key and dropped from the first (a feed, a trail, under
   * retention), never changed but for their bookkeeping: a move's sync reads only what is new.
   */
  appendOnly?: boolean;
  /** Columns never exported, checksummed or copied (secrets, hashes). */
  omit?: readonly string[];
  /**
   * Kept by the database from other datasets' rows (triggers): never exported or copied itself,
   * as writing the rows it derives from rebuilds it. Says from what.
   */
  derivedFrom?: string;
};

/** State a tenant's Durable Object keeps in its own storage (its SQLite tables). */
export type ObjectDataset = {
  name: string;
  home: Extract<Home, "gate">;
  description: string;
  /** The object's storage tables. */
  storage: readonly string[];
  /**
   * Tables holding the object's copy of other datasets' rows, which it reloads from them (the
   * gate's keys, with their secrets' hashes): never archived.
   */
  cached?: readonly string[];
};

export type Dataset = TableDataset | ObjectDataset;

/** A dataset's row as drizzle reads it; for entries, an Entry. */
export type DatasetRow<D extends TableDataset = TableDataset> = D["tables"]["sqlite"]["$inferSelect"];

/** A row's order key and version: all a diff between two copies compares. */
export type RowVersion = Record<string, unknown>;

/** The condition selecting the tenant's rows of the dataset's `table`. */
export function ownedBy(dataset: TableDataset, table: any, tenantId: string): SQL {
  if (dataset.owned) return dataset.owned(table, tenantId);
  if (dataset.tenantKey === undefined) throw new Error(`dataset ${dataset.name} names no tenant column`);
  return eq(table[dataset.tenantKey], tenantId);
}

/** A shard dataset's one key column: shard rows are walked, read and removed by it. */
export function keyColumnOf(dataset: TableDataset): string {
  const [key, ...rest] = dataset.orderKey;
  if (key === undefined || rest.length > 0) throw new Error(`dataset ${dataset.name} needs a one-column order key`);
  return key;
}

/** The key of a shard dataset's row, as the row's store read it. */
export const keyOf = (dataset: TableDataset, row: Record<string, unknown>) => String(row[keyColumnOf(dataset)]);

/** Whether the dataset's key column holds numbers (a seq): its keys travel as text and compare as numbers. */
export function numericKey(dataset: TableDataset): boolean {
  const column = (dataset.tables.sqlite as unknown as Record<string, { dataType?: string }>)[keyColumnOf(dataset)];
  return column?.dataType === "number";
}

/** Orders two keys of the dataset (as keyOf writes them) as its store orders them. */
export function compareKeys(dataset: TableDataset): (a: string, b: string) => number {
  if (numericKey(dataset)) return (a, b) => Number(a) - Number(b);
  return (a, b) => (a < b ? -1 : a > b ? 1 : 0);
}
