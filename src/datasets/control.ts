import { createHash } from "node:crypto";
import { and, asc, eq, getTableColumns, gt, inArray, not, or, type SQL, sql } from "drizzle-orm";
import { getTableConfig, SQLiteAsyncDialect, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import type { ControlDb } from "../db/client";
import {
  type CanonicalRow,
  canonicalJson,
  canonicalRow,
  copiedColumns,
  type JsonValue,
  orderKeyOf,
  RowChecksum,
} from "./canonical";
import { ownedBy, type TableDataset } from "./dataset";

// The generic operations on a control-home dataset, each on one tenant's rows only (`ownedBy`).
// Rows go in and out in canonical form (src/datasets/canonical.ts).
//
// Purging must respect the foreign keys (api_keys → users → tenants), and idempotency records
// belong to a tenant only through its keys: purge the datasets in reverse registry order, each
// until it returns 0, and import them in registry order.

/** D1 binds at most this many parameters per statement. */
const MAX_PARAMS = 100;

/** An import that would write something other than the tenant's own rows exactly; nothing was written. */
export class ImportRefused extends Error {
  override name = "ImportRefused";
}

function controlTable(dataset: TableDataset): SQLiteTable {
  if (dataset.home !== "control") throw new Error(`dataset ${dataset.name} does not live in the control database`);
  return dataset.tables.sqlite;
}

const columnsOf = (table: SQLiteTable) => getTableColumns(table) as Record<string, SQLiteColumn>;

function column(table: SQLiteTable, key: string): SQLiteColumn {
  const found = columnsOf(table)[key];
  if (!found) throw new Error(`table ${getTableConfig(table).name} has no column ${key}`);
  return found;
}

function checkLimit(limit: number) {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, not ${limit}`);
}

/** The rows whose order key comes after `after`: (a > x) OR (a = x AND b > y) OR … */
function keyAfter(keys: SQLiteColumn[], after: readonly unknown[]): SQL {
  if (after.length !== keys.length) throw new Error(`an order key has ${keys.length} values, not ${after.length}`);
  const branches = keys.map((key, i) =>
    and(...keys.slice(0, i).map((earlier, j) => eq(earlier, after[j])), gt(key, after[i])),
  );
  return or(...branches) as SQL;
}

/** The tenant's rows in order-key order after `after`, bounded by `limit`, over the given columns. */
function page(
  db: ControlDb,
  dataset: TableDataset,
  tenantId: string,
  fields: Record<string, SQLiteColumn>,
  after: readonly unknown[] | null,
  limit: number,
) {
  checkLimit(limit);
  const table = controlTable(dataset);
  const keys = dataset.orderKey.map((key) => column(table, key));
  return db
    .select(fields)
    .from(table)
    .where(and(ownedBy(dataset, table, tenantId), after === null ? undefined : keyAfter(keys, after)))
    .orderBy(...keys.map((key) => asc(key)))
    .limit(limit) as Promise<Record<string, unknown>[]>;
}

/**
 * Up to `limit` of the tenant's rows, in ascending order key, after the order key `after` (null:
 * from the first), without the omitted columns. The next page is after `orderKeyOf` the last row.
 */
export async function controlRows(
  db: ControlDb,
  dataset: TableDataset,
  tenantId: string,
  after: readonly unknown[] | null,
  limit: number,
): Promise<CanonicalRow[]> {
  const table = controlTable(dataset);
  const rows = await page(db, dataset, tenantId, Object.fromEntries(copiedColumns(dataset, table)), after, limit);
  return rows.map((row) => canonicalRow(dataset, table, row));
}

/** A row's version in a diff: its version column, or the SHA-256 (hex) of its canonical JSON. */
export type ControlVersion = { key: JsonValue[]; version: JsonValue };

/** The order keys and versions of up to `limit` of the tenant's rows after `after`, as controlRows pages them. */
export async function controlVersions(
  db: ControlDb,
  dataset: TableDataset,
  tenantId: string,
  after: readonly unknown[] | null,
  limit: number,
): Promise<ControlVersion[]> {
  const table = controlTable(dataset);
  if (dataset.version === undefined) {
    const rows = await controlRows(db, dataset, tenantId, after, limit);
    return rows.map((row) => ({
      key: orderKeyOf(dataset, row),
      version: createHash("sha256").update(canonicalJson(row)).digest("hex"),
    }));
  }
  const fields = Object.fromEntries([...dataset.orderKey, dataset.version].map((key) => [key, column(table, key)]));
  const rows = await page(db, dataset, tenantId, fields, after, limit);
  const version = dataset.version;
  return rows.map((row) => ({
    key: dataset.orderKey.map((key) => row[key] as JsonValue),
    version: row[version] as JsonValue,
  }));
}

export type Summary = { rows: number; checksum: string };

/** How many rows the tenant has and their RowChecksum in order, read `pageSize` rows at a time. */
export async function controlSummary(
  db: ControlDb,
  dataset: TableDataset,
  tenantId: string,
  pageSize: number,
): Promise<Summary> {
  const checksum = new RowChecksum();
  let after: unknown[] | null = null;
  for (;;) {
    const rows = await controlRows(db, dataset, tenantId, after, pageSize);
    for (const row of rows) checksum.add(row);
    const last = rows[rows.length - 1];
    if (rows.length < pageSize || !last) break;
    after = orderKeyOf(dataset, last);
  }
  return { rows: checksum.rows, checksum: checksum.digest() };
}

/**
 * Deletes up to `limit` of the tenant's rows (the first in order-key order) and says how many went:
 * call it until it returns 0. See the top of this file for the order of datasets.
 */
export async function purgeControlRows(
  db: ControlDb,
  dataset: TableDataset,
  tenantId: string,
  limit: number,
): Promise<number> {
  checkLimit(limit);
  const table = controlTable(dataset);
  // rowid: one statement whatever the key's width (every control table is a rowid table).
  const rowid = sql`rowid`;
  const first = db
    .select({ rowid })
    .from(table)
    .where(ownedBy(dataset, table, tenantId))
    .orderBy(...dataset.orderKey.map((key) => asc(column(table, key))))
    .limit(limit);
  const result = await db.delete(table).where(inArray(rowid, first)).run();
  return result.meta.changes;
}

/** The row's values by column key, ready to insert, once checked to be a whole row of `table`. */
function toInsert(dataset: TableDataset, table: SQLiteTable, row: CanonicalRow, supplied: Set<string>) {
  const columns = columnsOf(table);
  const names = new Set(Object.values(columns).map((c) => c.name));
  const unknown = Object.keys(row).filter((name) => !names.has(name));
  if (unknown.length > 0) throw new ImportRefused(`${dataset.name} has no column ${unknown.join(", ")}`);
  const values: Record<string, unknown> = {};
  for (const [key, c] of Object.entries(columns)) {
    const omitted = dataset.omit?.includes(key) ?? false;
    if (omitted && !supplied.has(key)) continue;
    if (!(c.name in row)) throw new ImportRefused(`a row of ${dataset.name} lacks ${c.name}`);
    values[key] = row[c.name];
  }
  return values;
}

/**
 * Which omitted columns the rows supply (all rows or none). An omitted column is never exported,
 * so an export cannot restore it: the caller supplies it (e.g. a clone copies the source's key
 * hashes) or leaves it out, when a new row gets its default and an overwritten one keeps its own.
 * One that is NOT NULL without a default must be supplied: an API key restored without its
 * secret's hash would be a key nothing opens, so it is refused rather than invented.
 */
function suppliedOmitted(dataset: TableDataset, table: SQLiteTable, rows: CanonicalRow[]): Set<string> {
  const supplied = new Set<string>();
  for (const key of dataset.omit ?? []) {
    const c = column(table, key);
    const given = rows.filter((row) => c.name in row).length;
    if (given === rows.length) supplied.add(key);
    else if (given > 0) throw new ImportRefused(`${c.name} is given for some rows of ${dataset.name}, not all`);
    else if (c.notNull && !c.hasDefault) {
      throw new ImportRefused(`${dataset.name} cannot be imported without ${c.name}, which no export holds`);
    }
  }
  return supplied;
}

/**
 * Refuses rows that are not the tenant's, by `ownedBy` itself: compared in place for a tenant
 * column, evaluated by the database on the rows' values otherwise (an idempotency record is the
 * tenant's when its key is, so the keys are imported first). It is checked before the batch, as
 * a D1 batch cannot be made to abort on a condition: only a concurrent change to the tenant's
 * keys could slip between the check and the write.
 */
async function checkOwned(db: ControlDb, dataset: TableDataset, table: SQLiteTable, tenantId: string, rows: object[]) {
  const columns = columnsOf(table);
  const values = rows as Record<string, unknown>[];
  if (dataset.tenantKey !== undefined) {
    const tenantKey = dataset.tenantKey;
    const foreign = values.find((row) => row[tenantKey] !== tenantId);
    if (foreign) throw new ImportRefused(`a row of ${dataset.name} belongs to ${String(foreign[tenantKey])}`);
    return;
  }
  const conditions = values.map((row) => {
    const inPlace = Object.fromEntries(Object.entries(columns).map(([key, c]) => [key, sql.param(row[key], c)]));
    return ownedBy(dataset, inPlace, tenantId);
  });
  const first = conditions[0];
  if (!first) return;
  const perQuery = Math.max(1, Math.floor(MAX_PARAMS / new SQLiteAsyncDialect().sqlToQuery(first).params.length));
  for (let i = 0; i < conditions.length; i += perQuery) {
    const chunk = conditions.slice(i, i + perQuery);
    const [owned = []] = await db.values<number[]>(sql`select ${sql.join(chunk, sql`, `)}`);
    const at = chunk.findIndex((_, j) => owned[j] !== 1);
    if (at >= 0) throw new ImportRefused(`row ${i + at} of ${dataset.name} is not the tenant's`);
  }
}

/**
 * Refuses rows whose primary key another tenant's row already holds: the upsert would otherwise
 * overwrite that row, tenant column included, and hand it to this tenant.
 */
async function checkNotTaken(
  db: ControlDb,
  dataset: TableDataset,
  table: SQLiteTable,
  tenantId: string,
  primary: readonly SQLiteColumn[],
  rows: Record<string, unknown>[],
) {
  const keyOf = Object.fromEntries(Object.entries(columnsOf(table)).map(([key, c]) => [c.name, key]));
  const perQuery = Math.max(1, Math.floor((MAX_PARAMS - 1) / primary.length));
  for (let i = 0; i < rows.length; i += perQuery) {
    const same = rows
      .slice(i, i + perQuery)
      .map((row) => and(...primary.map((c) => eq(c, row[keyOf[c.name] as string]))));
    const [taken] = await db
      .select({ one: sql`1` })
      .from(table)
      .where(and(or(...same), not(ownedBy(dataset, table, tenantId))))
      .limit(1);
    if (taken) throw new ImportRefused(`a row of ${dataset.name} has the key of another tenant's row`);
  }
}

/**
 * Writes the rows exactly as given (every column, ids and timestamps included), inserting them or
 * overwriting the row with the same primary key, all in one D1 batch: all or nothing. Every row
 * must be the tenant's and whole (every column controlRows gives); see suppliedOmitted for the
 * omitted ones. The batch holds every row, so the caller bounds how many it passes at once.
 */
export async function importControlRows(
  db: ControlDb,
  dataset: TableDataset,
  tenantId: string,
  rows: CanonicalRow[],
): Promise<number> {
  const table = controlTable(dataset);
  if (rows.length === 0) return 0;
  const supplied = suppliedOmitted(dataset, table, rows);
  const values = rows.map((row) => toInsert(dataset, table, row, supplied));
  await checkOwned(db, dataset, table, tenantId, values);

  const config = getTableConfig(table);
  const primary = config.primaryKeys[0]?.columns ?? config.columns.filter((c) => c.primary);
  await checkNotTaken(db, dataset, table, tenantId, primary, values as Record<string, unknown>[]);
  const written = Object.entries(columnsOf(table)).filter(([key]) => !dataset.omit?.includes(key) || supplied.has(key));
  const set = Object.fromEntries(
    written.filter(([, c]) => !primary.includes(c)).map(([key, c]) => [key, sql`excluded.${sql.identifier(c.name)}`]),
  );
  // Every column is bound on every row (absent ones as their default), so a row costs one per column.
  const perStatement = Math.floor(MAX_PARAMS / config.columns.length);
  const statements = [];
  for (let i = 0; i < values.length; i += perStatement) {
    const insert = db.insert(table).values(values.slice(i, i + perStatement));
    // A table of key columns only has nothing to overwrite.
    statements.push(
      Object.keys(set).length > 0
        ? // Never over another tenant's row, should one have taken the key since the check.
          insert.onConflictDoUpdate({ target: primary, set, setWhere: ownedBy(dataset, table, tenantId) })
        : insert.onConflictDoNothing({ target: primary }),
    );
  }
  const [head, ...tail] = statements;
  if (head) await db.batch([head, ...tail]);
  return rows.length;
}
