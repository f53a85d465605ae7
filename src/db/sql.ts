import { type Column as DrizzleColumn, getTableColumns, is, SQL, sql, type Table } from "drizzle-orm";

// Query-building helpers both shard engines share (SQLite and PostgreSQL spell these alike).

/** Splits `items` into runs of at most `size`, for statements with a bound on their parameters. */
export function chunksOf<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

type Column = { name: string; primary?: boolean };

/**
 * The SELECT of an `INSERT … SELECT` that inserts `row` only where `condition` holds at that
 * point of the transaction (D1 batches cannot branch on an earlier statement's result). Values in
 * the table's column order; SQL values (a seq subquery) as they are. PostgreSQL types a SELECT's
 * parameters as text unless cast, so there each is cast to its column's type.
 */
export function selectRowWhere(table: Table, row: Record<string, unknown>, condition: SQL, engine: "sqlite" | "pg") {
  const columns = getTableColumns(table) as Record<string, DrizzleColumn>;
  const values = Object.entries(columns).map(([key, column]) => {
    const value = row[key] ?? null;
    if (is(value, SQL)) return value;
    const param = sql.param(value === null ? null : column.mapToDriverValue(value));
    if (engine === "sqlite") return param;
    return sql`cast(${param} as ${sql.raw(column.getSQLType().replace(/ COLLATE .*$/, ""))})`;
  });
  return sql`select ${sql.join(values, sql`, `)} where ${condition}`;
}

/**
 * An upsert's SET that makes the stored row exactly the one written: every column but the key,
 * from the row being inserted (`excluded`, spelt alike by SQLite and PostgreSQL).
 */
export const overwrite = (columns: Record<string, Column>, key: readonly Column[]): Record<string, SQL> =>
  Object.fromEntries(
    Object.entries(columns)
      .filter(([, column]) => !key.includes(column))
      .map(([name, column]) => [name, sql.raw(`excluded."${column.name}"`)]),
  );

/** One bundled migration of a shard: `name` is its drizzle journal tag, `sql` the file's text. */
export type ShardMigration = { name: string; sql: string };

/** The statements of a migration file, split where drizzle-kit marks them. */
export const migrationStatements = (text: string): string[] =>
  text
    .split("--> statement-breakpoint")
    .map((statement) => statement.trim())
    .filter((statement) => statement !== "");

/**
 * A pending migration's own statements failed (as opposed to the shard not answering): the
 * shard's schema is behind the code, which is what puts its tenants in MIGRATION_ERROR.
 */
export class MigrationFailed extends Error {
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`${migration}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "MigrationFailed";
  }
}

/** A D1 database's batch as one transaction of the statements built on it (feeds and trails take it). */
export const inD1Batch =
  (db: { batch: (statements: [never, ...never[]]) => Promise<unknown[]> }) =>
  (_: string | null, build: (q: any) => any[]): Promise<unknown[]> =>
    db.batch(build(db) as [never, ...never[]]);
