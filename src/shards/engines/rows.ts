import { type AnyColumn, and, asc, getTableColumns, gt, inArray, type SQL } from "drizzle-orm";
import { getTableConfig as pgTableConfig } from "drizzle-orm/pg-core";
import { type SQLiteTable, getTableConfig as sqliteTableConfig } from "drizzle-orm/sqlite-core";
import { ownedBy, type TableDataset } from "../../datasets/dataset";

// What both engines' generic dataset statements need from a declaration: the table, its key, the
// tenant's rows. Only how statements are batched, chunked and made atomic differs by engine.

export type Engine = "sqlite" | "pg";

/** A dataset's row as drizzle reads it; for entries, an Entry. */
export type DatasetRow<D extends TableDataset = TableDataset> = D["tables"]["sqlite"]["$inferSelect"];

/** A row's order key and version: all a diff between two copies compares. */
export type RowVersion = Record<string, unknown>;

export function tableOf(dataset: TableDataset, engine: Engine): any {
  const table = engine === "sqlite" ? dataset.tables.sqlite : dataset.tables.pg;
  if (!table) throw new Error(`dataset ${dataset.name} has no ${engine} table`);
  return table;
}

/** The one column rows are walked by: shard datasets are keyed on one column within the tenant. */
export function keyColumnOf(dataset: TableDataset) {
  const [key, ...rest] = dataset.orderKey;
  if (key === undefined || rest.length > 0) throw new Error(`dataset ${dataset.name} needs a one-column order key`);
  return key;
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
  return {
    table,
    key,
    keyColumn,
    owned,
    /** The tenant's rows after `after` (null: from the first). */
    from: (after: string | null): SQL | undefined => and(owned, after === null ? undefined : gt(keyColumn, after)),
    /** The tenant's rows among these keys, or among the keys a subquery selects. */
    among: (keys: Parameters<typeof inArray>[1]): SQL | undefined => and(owned, inArray(keyColumn, keys)),
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
